// `dinet prepare`: the published layout on synthetic and real clips, resuming, failures that
// stay local, and files of the user that are never overwritten.
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <fstream>
#include <random>

#include "data/prepare_crop.h"
#include "data/prepare_steps.h"
#include "dinet/error.h"
#include "dinet/face.h"
#include "dinet/files.h"
#include "dinet/landmarks.h"
#include "dinet/media.h"
#include "dinet/prepare.h"
#include "dinet/synth.h"
#include "test_support.h"

namespace fs = std::filesystem;
using dinet::PrepareParams;
using dinet::StepStatus;
using dinet::test::TempDir;

namespace {

// A fresh published layout under <tmp>/asserts, with mel features (no model needed).
PrepareParams layout(const TempDir& dir) {
  PrepareParams p = dinet::default_prepare_params(dir / "asserts");
  p.audio_feature = "mel";
  p.jobs = 2;
  p.show_progress = false;
  return p;
}

void synth(const PrepareParams& p, int videos, double seconds, int size = 256) {
  dinet::SynthOptions o;
  o.out_dir = p.source_video_dir;  // CSVs land in split_video_25fps_landmark_openface
  o.videos = videos;
  o.seconds = seconds;
  o.width = o.height = size;
  o.show_progress = false;
  dinet::synthesize_clips(o);
}

PrepareParams all_steps(PrepareParams p) {
  p.steps.detect_landmarks = p.steps.extract_audio = p.steps.extract_audio_feature = true;
  p.steps.crop_face = p.steps.generate_training_json = true;
  return p;
}

int count(const dinet::PrepareSummary& s, const std::string& step, StepStatus status) {
  int n = 0;
  for (const auto& o : s.outcomes) n += o.step == step && o.status == status;
  return n;
}

nlohmann::json read_json(const fs::path& path) {
  return nlohmann::json::parse(dinet::read_file(path));
}

// Checks one video's crops and json entry against the published layout.
void expect_published_video(const PrepareParams& p, const nlohmann::json& entry,
                            const std::string& video, int feature_channels) {
  ASSERT_TRUE(entry.contains("clip_data_list")) << video;
  EXPECT_EQ(entry["video_clip_num"], entry["clip_data_list"].size());
  EXPECT_EQ(entry["audio_feature"], p.audio_feature);
  for (const auto& clip : entry["clip_data_list"]) {
    ASSERT_EQ(clip["frame_name_list"].size(), 9u);
    ASSERT_EQ(clip["frame_path_list"].size(), 9u);
    ASSERT_EQ(clip["deep_speech_list"].size(), 9u);
    const std::string first = clip["frame_name_list"][0];
    // "<video>/<clip 6 digits>/<frame 6 digits>.jpg", the frame = clip index * 9.
    ASSERT_EQ(first.size(), video.size() + 18) << first;
    const int clip_index = std::stoi(first.substr(video.size() + 1, 6));
    EXPECT_EQ(std::stoi(first.substr(video.size() + 8, 6)), clip_index * 9) << first;
    for (int k = 0; k < 9; ++k) {
      const fs::path path = clip["frame_path_list"][k].get<std::string>();
      EXPECT_TRUE(path.is_absolute());
      EXPECT_TRUE(fs::exists(path)) << path;
      EXPECT_EQ(clip["deep_speech_list"][k].size(), size_t(feature_channels));
    }
  }
}

}  // namespace

TEST(StreamLandmarks, WindowedFinalLandmarksEqualTheWholeTrack) {
  // A wandering, jittery face with short and long gaps.
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0, 1.5f);
  dinet::LandmarkTrack raw;
  for (int t = 0; t < 300; ++t) {
    dinet::FaceLandmarks f;
    for (int k = 0; k < 68; ++k)
      f[k] = {200 + 60 * std::cos(k * 0.3f) + t * 0.4f + noise(rng),
              220 + 70 * std::sin(k * 0.3f) + 10 * std::sin(t * 0.1f) + noise(rng)};
    const bool gap = (t >= 50 && t < 55) || (t >= 120 && t < 150) || t == 200;
    raw.frames.push_back(f);
    raw.success.push_back(!gap);
    raw.confidence.push_back(gap ? 0.f : 0.9f);
  }
  auto stream = dinet::prepare::StreamLandmarks::tracked(9);
  for (size_t t = 0; t < raw.size(); ++t)
    stream.add(raw.success[t] ? &raw.frames[t] : nullptr, raw.confidence[t], t == 230);
  ASSERT_FALSE(stream.ready(261, 270));  // fewer than kContext frames after it
  stream.finish();
  int64_t filled = 0;
  const auto whole = stream.whole(&filled);
  EXPECT_EQ(filled, 6);  // the two short gaps; the 30-frame one stays a gap
  // The whole-video clean-up, as detect_video_landmarks does it.
  dinet::LandmarkTrack reference = raw;
  dinet::fill_gaps(reference, dinet::LandmarkOptions{}.max_gap);
  dinet::smooth_track(reference, {}, {230});
  EXPECT_TRUE(stream.has_cut(225, 234));
  EXPECT_FALSE(stream.has_cut(230, 239));  // a clip may start with a new shot
  for (int64_t begin = 0; begin < 300; begin += 9) {
    const auto chunk = stream.finalized(begin, std::min<int64_t>(300, begin + 9));
    for (size_t k = 0; k < chunk.size(); ++k) {
      const size_t t = size_t(begin) + k;
      ASSERT_EQ(chunk.success[k], reference.success[t]) << t;
      ASSERT_EQ(chunk.success[k], whole.success[t]) << t;
      if (!chunk.success[k]) continue;  // a long gap: no landmarks to compare
      for (int j = 0; j < 68; ++j) {
        ASSERT_EQ(chunk.frames[k][j], whole.frames[t][j]) << "frame " << t << " point " << j;
        // Only the smoother's pose reference differs: a small fraction of a pixel.
        ASSERT_LT(cv::norm(chunk.frames[k][j] - reference.frames[t][j]), 0.1)
            << "frame " << t << " point " << j;
      }
    }
  }
}

TEST(StepMarker, OutputsWithoutOurMarkerAreNeverRedone) {
  TempDir dir;
  const fs::path out = dir / "features", file = out / "a_deepspeech.txt";
  dinet::prepare::StepMarker marker(out, "extract_deep_speech");
  const nlohmann::json settings{{"feature", "deepspeech"}};
  using dinet::prepare::Plan;
  EXPECT_EQ(plan_step(marker, "a", settings, file, false), Plan::run);
  dinet::write_file_atomic(file, "1 2 3\n");  // the user's file
  EXPECT_EQ(plan_step(marker, "a", settings, file, true), Plan::skip_foreign);
  marker.begin("a");  // ours, unfinished
  EXPECT_EQ(plan_step(marker, "a", settings, file, false), Plan::run);
  marker.finish("a", settings);
  EXPECT_EQ(plan_step(marker, "a", settings, file, false), Plan::skip_done);
  EXPECT_EQ(plan_step(marker, "a", {{"feature", "mel"}}, file, false), Plan::run);
  EXPECT_EQ(plan_step(marker, "a", settings, file, true), Plan::run);
  // Markers live beside the output folder, so listing it shows only outputs.
  EXPECT_TRUE(fs::exists(dir / ".features.done" / "a.extract_deep_speech.json"));
}

TEST(Prepare, SyntheticClipsGiveThePublishedLayoutAndResume) {
  TempDir dir;
  PrepareParams p = all_steps(layout(dir));
  synth(p, 2, 3.0);
  const fs::path csv = p.openface_landmark_dir / "synth_000.csv";
  const std::string csv_before = dinet::read_file(csv);

  auto s = dinet::run_prepare(p);
  ASSERT_TRUE(s.failed_videos().empty()) << dinet::format_summary(s);
  // The synthetic CSVs are given: never overwritten, not even detected again.
  EXPECT_EQ(count(s, "detect_landmarks", StepStatus::skipped), 2);
  EXPECT_EQ(dinet::read_file(csv), csv_before);
  EXPECT_EQ(count(s, "crop_face", StepStatus::done), 2);
  EXPECT_TRUE(fs::exists(p.audio_dir / "synth_000.wav"));
  EXPECT_TRUE(fs::exists(p.deep_speech_dir / "synth_001_mel.npy"));
  EXPECT_GT(s.disk_bytes(), 0u);

  // 75 frames: published clip ends range(9, 75, 9) -> 8 clips, none past frame 71.
  for (const std::string video : {"synth_000", "synth_001"}) {
    const fs::path clip = p.crop_face_dir / video / "000007";
    EXPECT_TRUE(fs::exists(clip / "000063.jpg")) << clip;
    EXPECT_TRUE(fs::exists(clip / "000071.jpg")) << clip;
    EXPECT_FALSE(fs::exists(p.crop_face_dir / video / "000008"));
  }
  // A crop keeps its native size: (3R + R/4) x (2R + 2R/4), R a multiple of 4.
  const cv::Mat crop = cv::imread((p.crop_face_dir / "synth_000/000000/000000.jpg").string());
  ASSERT_FALSE(crop.empty());
  const int r = crop.rows * 4 / 13;
  EXPECT_EQ(r % 4, 0);
  EXPECT_EQ(crop.rows, 3 * r + r / 4);
  EXPECT_EQ(crop.cols, 2 * r + 2 * (r / 4));

  const auto json = read_json(p.json_path);
  ASSERT_EQ(json.size(), 2u);  // only videos at the top level
  for (const std::string video : {"synth_000", "synth_001"})
    expect_published_video(p, json[video], video, 320);
  EXPECT_EQ(json["synth_000"]["video_clip_num"], 8);

  // A re-run does nothing, and the json is left as it was.
  const auto json_time = fs::last_write_time(p.json_path);
  s = dinet::run_prepare(p);
  EXPECT_EQ(s.count(StepStatus::done), 0) << dinet::format_summary(s);
  EXPECT_EQ(s.frames, 0);
  EXPECT_EQ(fs::last_write_time(p.json_path), json_time);

  // A crash in the middle of synth_001's crops: a started marker, no done marker, junk.
  dinet::prepare::StepMarker crops(p.crop_face_dir, "crop_face");
  crops.begin("synth_001");
  fs::remove_all(p.crop_face_dir / "synth_001" / "000003");
  dinet::write_file_atomic(p.crop_face_dir / "synth_001" / "000009" / "000081.jpg", "partial");
  s = dinet::run_prepare(p);
  EXPECT_EQ(count(s, "crop_face", StepStatus::done), 1) << dinet::format_summary(s);
  EXPECT_EQ(count(s, "crop_face", StepStatus::skipped), 1);
  EXPECT_TRUE(fs::exists(p.crop_face_dir / "synth_001" / "000003" / "000027.jpg"));
  EXPECT_FALSE(fs::exists(p.crop_face_dir / "synth_001" / "000009"));
  // The same seed gives the same crops, so the json is unchanged.
  EXPECT_EQ(read_json(p.json_path), json);
}

TEST(Prepare, ACorruptVideoIsReportedAndTheOthersComplete) {
  TempDir dir;
  PrepareParams p = all_steps(layout(dir));
  synth(p, 1, 3.0);
  dinet::write_file_atomic(p.source_video_dir / "broken.mp4", std::string(5000, 'x'));
  const auto s = dinet::run_prepare(p);
  EXPECT_EQ(s.failed_videos(), std::vector<std::string>{"broken"}) << dinet::format_summary(s);
  for (const auto& o : s.outcomes)
    if (o.video == "broken" && o.status == StepStatus::failed)
      EXPECT_NE(o.reason.find("broken.mp4"), std::string::npos) << o.reason;
  EXPECT_EQ(count(s, "crop_face", StepStatus::done), 1);
  const auto json = read_json(p.json_path);
  EXPECT_TRUE(json.contains("synth_000"));
  EXPECT_FALSE(json.contains("broken"));
  EXPECT_NE(dinet::format_summary(s).find("FAILED (1 videos)"), std::string::npos);
}

TEST(Prepare, FilesOfTheUserAreKeptEvenWithForce) {
  TempDir dir;
  PrepareParams p = layout(dir);
  synth(p, 1, 1.0);
  // A published-pipeline feature file and no DeepSpeech model: nothing needs the model.
  p.audio_feature = "deepspeech";
  const fs::path features = p.deep_speech_dir / "synth_000_deepspeech.txt";
  dinet::write_file_atomic(features, "0 1\n2 3\n");
  p.steps.extract_audio_feature = p.steps.detect_landmarks = true;
  p.force = true;
  const std::string csv = dinet::read_file(p.openface_landmark_dir / "synth_000.csv");
  const auto s = dinet::run_prepare(p);
  EXPECT_EQ(s.count(StepStatus::skipped), 2) << dinet::format_summary(s);
  EXPECT_EQ(dinet::read_file(features), "0 1\n2 3\n");
  EXPECT_EQ(dinet::read_file(p.openface_landmark_dir / "synth_000.csv"), csv);
}

TEST(Prepare, FullFramesOnlyWhenAskedAndDeepSpeechNeedsItsModel) {
  TempDir dir;
  PrepareParams p = layout(dir);
  synth(p, 1, 1.0, 128);
  p.steps.extract_video_frame = true;
  auto s = dinet::run_prepare(p);
  ASSERT_EQ(s.count(StepStatus::done), 1) << dinet::format_summary(s);
  int frames = 0;
  for (const auto& f : fs::directory_iterator(p.video_frame_dir / "synth_000"))
    frames += f.is_regular_file();
  EXPECT_EQ(frames, 25);
  EXPECT_TRUE(fs::exists(p.video_frame_dir / "synth_000" / "000024.jpg"));
  // --all never dumps frames; DeepSpeech without its graph stops before any work.
  p = layout(dir);
  p.all = true;
  p.audio_feature = "deepspeech";
  EXPECT_THROW(dinet::run_prepare(p), dinet::Error);
  EXPECT_FALSE(fs::exists(p.crop_face_dir));
}

TEST(Prepare, HdtfAnnotationsCutAndCropClips) {
  TempDir dir;
  PrepareParams p = layout(dir);
  PrepareParams raw = p;
  raw.source_video_dir = p.hdtf_video_dir;
  synth(raw, 1, 3.0, 128);
  fs::rename(p.hdtf_video_dir / "synth_000.mp4", p.hdtf_video_dir / "RD_Radio7.mp4");
  fs::create_directories(p.hdtf_annotation_dir);
  std::ofstream(p.hdtf_annotation_dir / "RD_annotion_time.txt")
      << "Radio7.mp4 00:00-00:01 00:01.5-00:00:02.5\n";
  std::ofstream(p.hdtf_annotation_dir / "RD_crop_wh.txt") << "Radio7_1.mp4 16 96 8 96\n";
  p.steps.split_hdtf = true;
  p.hdtf_size = 64;
  auto s = dinet::run_prepare(p);
  ASSERT_EQ(s.count(StepStatus::done), 1) << dinet::format_summary(s);
  dinet::VideoReader first(p.source_video_dir / "Radio7_0.mp4");
  EXPECT_EQ(first.info().width, 128);
  dinet::VideoReader second(p.source_video_dir / "Radio7_1.mp4");
  EXPECT_EQ(second.info().width, 64);
  EXPECT_TRUE(second.info().has_audio);
  cv::Mat frame;
  int frames = 0;
  while (second.read(frame)) ++frames;
  EXPECT_EQ(frames, 25);
  s = dinet::run_prepare(p);
  EXPECT_EQ(s.count(StepStatus::skipped), 1) << dinet::format_summary(s);
}

TEST(Prepare, ResampleConvertsOtherRatesAndCopies25Fps) {
  TempDir dir;
  PrepareParams p = layout(dir);
  fs::create_directories(p.raw_video_dir);
  {
    dinet::VideoWriterOptions o;
    o.fps = 30;
    dinet::VideoWriter w(p.raw_video_dir / "thirty.mp4", 64, 64, o);
    for (int i = 0; i < 60; ++i) w.write(cv::Mat(64, 64, CV_8UC3, cv::Scalar(i * 4, 0, 0)));
    w.finish();
    dinet::VideoWriter w25(p.raw_video_dir / "ready.mp4", 64, 64);
    for (int i = 0; i < 10; ++i) w25.write(cv::Mat(64, 64, CV_8UC3, cv::Scalar(0, i * 20, 0)));
    w25.finish();
  }
  p.steps.resample_25fps = true;
  const auto s = dinet::run_prepare(p);
  ASSERT_EQ(s.count(StepStatus::done), 2) << dinet::format_summary(s);
  EXPECT_EQ(dinet::read_file(p.source_video_dir / "ready.mp4"),
            dinet::read_file(p.raw_video_dir / "ready.mp4"));
  dinet::VideoReader converted(p.source_video_dir / "thirty.mp4");
  EXPECT_NEAR(converted.info().source_fps, 25.0, 1e-6);
  cv::Mat frame;
  int frames = 0;
  while (converted.read(frame)) ++frames;
  EXPECT_EQ(frames, 50);  // 2 s
}

TEST(Prepare, RealClipDetectsLandmarksAndCrops) {
  DINET_REQUIRE_SHARED();
  TempDir dir;
  PrepareParams p = all_steps(layout(dir));
  fs::create_directories(p.source_video_dir);
  fs::copy_file(dinet::test::shared_dir() / "data/real/videoretalking_face_2.mp4",
                p.source_video_dir / "face2.mp4");
  const auto s = dinet::run_prepare(p);
  ASSERT_TRUE(s.failed_videos().empty()) << dinet::format_summary(s);
  const auto track = dinet::read_openface_csv(p.openface_landmark_dir / "face2.csv", 125);
  EXPECT_EQ(std::count(track.success.begin(), track.success.end(), 1), 125);
  // 125 frames: clip ends 9, 18, ..., 117 -> 13 clips, every one with a steady face.
  const auto json = read_json(p.json_path);
  expect_published_video(p, json["face2"], "face2", 320);
  EXPECT_EQ(json["face2"]["video_clip_num"], 13);
}

TEST(Prepare, CommandLineExitCodesAndSummary) {
  TempDir dir;
  PrepareParams p = layout(dir);
  synth(p, 1, 1.0);
  const std::string args = "prepare --root " + (dir / "asserts").string() +
                           " --audio_feature mel --quiet --extract_audio --crop_face";
  auto r = dinet::test::run_dinet(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("crop_face"), std::string::npos) << r.output;
  dinet::write_file_atomic(p.source_video_dir / "broken.mp4", "not a video");
  r = dinet::test::run_dinet(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("broken"), std::string::npos) << r.output;
  r = dinet::test::run_dinet("prepare --help");
  for (const char* option : {"--extract_video_frame", "--crop_face_dir", "--jobs", "--jpeg_quality",
                             "--split_hdtf", "--resample_25fps", "--audio_feature", "--threads"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option;
}
