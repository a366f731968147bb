// The trainers' data side: reading the published training json, held-out splits, the
// published frame sampling, SyncNet pairs, and the prefetching loader.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "dinet/error.h"
#include "test_support.h"
#include "train/lip_shapes.h"
#include "train/prefetcher.h"
#include "train/samples.h"
#include "train/training_set.h"
#include "train_test_data.h"

namespace {
namespace fs = std::filesystem;
using namespace dinet::train;
using dinet::test::TempDir;

// The crop colour at pixel (0, 0), as (video, clip, frame) of the tiny set.
struct Origin {
  int video, clip, frame;
};
Origin origin(const at::Tensor& rgb3) {  // (3,H,W) in [0,1]
  auto px = [&](int c) { return static_cast<int>(std::lround(rgb3[c][0][0].item<float>() * 255)); };
  return {(px(2) - 40) / 60, (px(1) - 20) / 25, (px(0) - 10) / 20};
}

TEST(TrainingSet, ReadsThePublishedJson) {
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 2, .clips = 7});
  const TrainingSet set = read_training_set(json);
  ASSERT_EQ(set.videos.size(), 2u);
  EXPECT_EQ(set.videos[0].name, "video_0");
  EXPECT_EQ(set.videos[1].clips.size(), 7u);
  EXPECT_EQ(set.audio.name, "deepspeech");
  EXPECT_EQ(set.audio.channels, 29);
  EXPECT_EQ(set.clip_count(), 14);
  EXPECT_EQ(set.videos[1].clips[3].first_frame, 27);
  // A window across clips 2 and 3 (frames 22..30) holds the features of those frames.
  const auto window = set.videos[1].feature_window(22, 9);
  ASSERT_TRUE(window.has_value());
  for (int k = 0; k < 9; ++k) EXPECT_FLOAT_EQ((*window)[k][0].item<float>(), dinet::test::tiny_feature(1, 22 + k));
  EXPECT_FALSE(set.videos[1].feature_window(60, 9).has_value());  // past the last clip
  EXPECT_FALSE(set.videos[1].feature_window(-1, 9).has_value());
}

TEST(TrainingSet, AudioFeatureKeyAndChannelCounts) {
  TempDir dir;
  const TrainingSet mel = read_training_set(
      dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .channels = 320, .audio_feature_key = true}));
  EXPECT_EQ(mel.audio.name, "mel");
  EXPECT_EQ(mel.audio.channels, 320);
  TempDir other;
  const TrainingSet external =
      read_training_set(dinet::test::write_tiny_training_set(other.path(), {.videos = 1, .channels = 12}));
  EXPECT_EQ(external.audio.name, "external");
}

TEST(TrainingSet, ClipsAreConsecutiveWithoutFrameNumbers) {
  TempDir dir;
  const TrainingSet set = read_training_set(
      dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 3, .frame_numbers = false}));
  EXPECT_EQ(set.videos[0].clips[2].first_frame, 18);
}

TEST(TrainingSet, MalformedJsonNamesFileAndEntry) {
  TempDir dir;
  const fs::path json = dir / "training_json.json";
  std::ofstream(json) << R"({"v": {"clip_data_list": [{"frame_path_list": ["a.jpg"], "deep_speech_list": []}]}})";
  try {
    read_training_set(json);
    FAIL() << "no error";
  } catch (const dinet::Error& e) {
    EXPECT_NE(std::string(e.what()).find(json.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("video 'v' clip 0"), std::string::npos) << e.what();
  }
  std::ofstream(json) << "{not json";
  EXPECT_THROW(read_training_set(json), dinet::Error);
  EXPECT_THROW(read_training_set(dir / "missing.json"), dinet::Error);
}

TEST(TrainingSet, HeldOutVideosOrLastClips) {
  TempDir dir;
  const TrainingSet set = read_training_set(dinet::test::write_tiny_training_set(dir.path(), {.videos = 5, .clips = 6}));
  const SplitSet by_video = split_heldout(set, 0.2);
  EXPECT_EQ(by_video.heldout.videos.size(), 1u);
  EXPECT_EQ(by_video.train.videos.size(), 4u);
  for (const auto& v : by_video.train.videos) EXPECT_NE(v.name, by_video.heldout.videos[0].name);

  TempDir small;
  const TrainingSet two = read_training_set(dinet::test::write_tiny_training_set(small.path(), {.videos = 2, .clips = 10}));
  const SplitSet by_clip = split_heldout(two, 0.2);
  ASSERT_EQ(by_clip.heldout.videos.size(), 2u);
  EXPECT_EQ(by_clip.heldout.videos[0].clips.size(), 2u);
  EXPECT_EQ(by_clip.train.videos[0].clips.size(), 8u);
  EXPECT_EQ(by_clip.heldout.videos[0].clips[0].first_frame, 72);
  EXPECT_EQ(by_clip.heldout.videos[0].clips[0].first_row, 72);  // rows follow the clip
  EXPECT_TRUE(split_heldout(two, 0).heldout.videos.empty());
}

TEST(FrameSampling, FollowsThePublishedRecipe) {
  TempDir dir;
  const TrainingSet set = read_training_set(dinet::test::write_tiny_training_set(dir.path(), {.videos = 2, .clips = 7}));
  const dinet::FaceSize face = dinet::face_size(64);
  const std::vector<int32_t> videos = {0, 1, 1, 0, 1, 0, 0, 1};
  const FrameBatch b = make_frame_batch(set, face, videos, 7, 3, 0, false);
  ASSERT_EQ(b.target.sizes(), (at::IntArrayRef{8, 3, 104, 80}));
  ASSERT_EQ(b.references.sizes(), (at::IntArrayRef{8, 15, 104, 80}));
  ASSERT_EQ(b.audio.sizes(), (at::IntArrayRef{8, 29, 5}));
  const auto mouth = [&](const at::Tensor& x) { return x.narrow(1, face.r, face.mouth).narrow(2, face.q, face.mouth); };
  for (int i = 0; i < 8; ++i) {
    const Origin src = origin(b.target[i]);
    EXPECT_EQ(src.video, videos[i]);
    EXPECT_GE(src.frame, 2);
    EXPECT_LE(src.frame, 6);
    // The masked source is the target with the mouth rectangle at 0.
    EXPECT_EQ(mouth(b.masked[i]).abs().max().item<float>(), 0.0f);
    at::Tensor outside = b.masked[i].clone();
    mouth(outside).copy_(mouth(b.target[i]));
    EXPECT_TRUE(at::equal(outside, b.target[i]));
    // Audio rows t-2 .. t+2 of the source frame t.
    const int t = src.clip * 9 + src.frame;
    for (int k = 0; k < 5; ++k) EXPECT_FLOAT_EQ(b.audio[i][0][k].item<float>(), dinet::test::tiny_feature(src.video, t - 2 + k));
    // Five references from five other distinct clips of the same video.
    std::set<int> clips = {src.clip};
    for (int r = 0; r < 5; ++r) {
      const Origin ref = origin(b.references[i].narrow(0, 3 * r, 3));
      EXPECT_EQ(ref.video, src.video);
      clips.insert(ref.clip);
    }
    EXPECT_EQ(clips.size(), 6u);
  }
  // Reproducible: the same (seed, epoch, index) give the same samples, another seed does not.
  EXPECT_TRUE(at::equal(make_frame_batch(set, face, videos, 7, 3, 0, false).references, b.references));
  EXPECT_FALSE(at::equal(make_frame_batch(set, face, videos, 8, 3, 0, false).references, b.references));
  // A video with fewer than 6 clips cannot give a frame sample.
  TempDir short_dir;
  const TrainingSet short_set = read_training_set(dinet::test::write_tiny_training_set(short_dir.path(), {.videos = 1, .clips = 5}));
  EXPECT_THROW(make_frame_batch(short_set, face, std::vector<int32_t>{0}, 1, 1, 0, false), dinet::Error);
}

TEST(FrameSampling, EpochPlanVisitsEveryVideoAugmentNumTimes) {
  const std::vector<int32_t> plan = epoch_plan(3, 4, 1, 2);
  ASSERT_EQ(plan.size(), 12u);
  for (int v = 0; v < 3; ++v) EXPECT_EQ(std::count(plan.begin(), plan.end(), v), 4);
  EXPECT_EQ(plan, epoch_plan(3, 4, 1, 2));
  EXPECT_NE(plan, epoch_plan(3, 4, 1, 3));
}

TEST(SyncSampling, PairsAndLabels) {
  TempDir dir;
  const TrainingSet set = read_training_set(dinet::test::write_tiny_training_set(dir.path(), {.videos = 2, .clips = 7}));
  const dinet::FaceSize face = dinet::face_size(64);
  int positives = 0, shifted = 0, other = 0;
  std::vector<SyncPair> pairs;
  for (int i = 0; i < 200; ++i) {
    auto rng = sample_rng(1, 1, i);
    const SyncPair p = draw_sync_pair(set, i % 2, rng);
    const int64_t start = set.videos[p.video].clips[p.clip].first_frame;
    if (p.in_sync) {
      ++positives;
      EXPECT_EQ(p.audio_video, p.video);
      EXPECT_EQ(p.audio_first_frame, start);
    } else if (p.audio_video == p.video) {
      ++shifted;
      EXPECT_GE(std::abs(p.audio_first_frame - start), kMinShift);
      EXPECT_LE(std::abs(p.audio_first_frame - start), kMaxShift);
    } else {
      ++other;
    }
    if (i < 6) pairs.push_back(p);
  }
  EXPECT_NEAR(positives, 100, 25);
  EXPECT_GT(shifted, 25);
  EXPECT_GT(other, 25);

  const SyncBatch b = make_sync_batch(set, face, pairs);
  ASSERT_EQ(b.mouths.sizes(), (at::IntArrayRef{6, 15, 64, 64}));
  ASSERT_EQ(b.audio.sizes(), (at::IntArrayRef{6, 29, 9}));
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(b.label[i].item<float>(), pairs[i].in_sync ? 1.0f : 0.0f);
    for (int k = 0; k < 9; ++k)
      EXPECT_FLOAT_EQ(b.audio[i][0][k].item<float>(),
                      dinet::test::tiny_feature(pairs[i].audio_video, pairs[i].audio_first_frame + k));
    // The mouths are frames 2..6 of the clip: the mouth crop's corner keeps the frame colour.
    for (int k = 0; k < 5; ++k) EXPECT_EQ(origin(b.mouths[i].narrow(0, 3 * k, 3)).frame, k + 2);
  }
}

TEST(SyncSampling, MatchedPairsShareTheMouths) {
  TempDir dir;
  const TrainingSet set = read_training_set(dinet::test::write_tiny_training_set(dir.path(), {.videos = 2, .clips = 7}));
  int shifted = 0, other = 0;
  for (int j = 0; j < 100; ++j) {
    auto rng_in = sample_rng(1, 1, 2 * j), rng_off = sample_rng(1, 1, 2 * j);
    const SyncPair in = draw_matched_sync_pair(set, j % 2, true, rng_in);
    const SyncPair off = draw_matched_sync_pair(set, j % 2, false, rng_off);
    EXPECT_EQ(in.video, off.video);
    EXPECT_EQ(in.clip, off.clip);
    EXPECT_TRUE(in.in_sync);
    EXPECT_EQ(in.audio_video, in.video);
    EXPECT_EQ(in.audio_first_frame, set.videos[in.video].clips[in.clip].first_frame);
    EXPECT_FALSE(off.in_sync);
    if (off.audio_video == off.video) {
      ++shifted;
      EXPECT_GE(std::abs(off.audio_first_frame - in.audio_first_frame), kMinShift);
    } else {
      ++other;
    }
  }
  EXPECT_GT(shifted, 25);
  EXPECT_GT(other, 25);
}

// Lip opening and width from the landmark CSVs beside the crops, standardised over the set;
// a video without a CSV is named and gives NaN targets, which the loss leaves out.
TEST(LipShapes, FromTheLandmarkCsvs) {
  TempDir dir;
  TrainingSet set = read_training_set(
      dinet::test::write_tiny_training_set(dir.path(), {.videos = 3, .clips = 6, .landmark_csvs = 2}));
  EXPECT_EQ(attach_lip_shapes(set), std::vector<std::string>{"video_2"});
  ASSERT_EQ(set.videos[0].lip_shape.size(), 54u);
  EXPECT_TRUE(set.videos[2].lip_shape.empty());
  double sum = 0, sum_sq = 0;
  for (int v = 0; v < 2; ++v)
    for (int t = 0; t < 54; ++t) {
      const float opening = set.videos[v].lip_shape[t][0];
      sum += opening;
      sum_sq += opening * opening;
      // The opening follows the feature the tiny set draws it from; the width is constant.
      if (t > 0) EXPECT_EQ(opening > set.videos[v].lip_shape[t - 1][0],
                           dinet::test::tiny_feature(v, t) > dinet::test::tiny_feature(v, t - 1));
      EXPECT_NEAR(set.videos[v].lip_shape[t][1], 0.0f, 1e-3);
    }
  EXPECT_NEAR(sum / 108, 0.0, 1e-4);
  EXPECT_NEAR(sum_sq / 108, 1.0, 1e-3);

  const std::vector<SyncPair> pairs{{.video = 1, .clip = 3}, {.video = 2, .clip = 0}};
  const at::Tensor target = lip_shape_targets(set, pairs);
  ASSERT_EQ(target.sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_FLOAT_EQ(target[0][0].item<float>(), set.videos[1].lip_shape[3 * 9 + 2][0]);
  EXPECT_FLOAT_EQ(target[0][8].item<float>(), set.videos[1].lip_shape[3 * 9 + 6][0]);
  EXPECT_TRUE(target[1].isnan().all().item<bool>());
  const at::Tensor predicted = target.nan_to_num(0) + 0.5;
  EXPECT_NEAR(lip_shape_loss(predicted, target).item<double>(), 0.25, 1e-6);
}

TEST(Prefetcher, InOrderBoundedAndRethrows) {
  std::atomic<int> made{0};
  {
    Prefetcher<int> loader(20, 3, 2, [&](int64_t i) {
      ++made;
      std::this_thread::sleep_for(std::chrono::milliseconds(i % 3));
      return static_cast<int>(i * 10);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_LE(made.load(), 2);  // nothing taken yet: at most `capacity` batches made
    for (int i = 0; i < 20; ++i) EXPECT_EQ(*loader.next(), i * 10);
    EXPECT_FALSE(loader.next().has_value());
    EXPECT_GT(loader.wait_seconds(), 0.0);
  }
  Prefetcher<int> failing(5, 2, 2, [](int64_t i) -> int {
    if (i == 1) throw dinet::Error("bad.jpg", "cannot read the face image");
    return 0;
  });
  EXPECT_EQ(*failing.next(), 0);
  EXPECT_THROW(failing.next(), dinet::Error);
}

}  // namespace
