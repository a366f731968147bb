// Live sessions: one frame per 640 samples, the audio passed through unchanged and never
// drifting from the frames, in both pacing modes.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "dinet/live.h"
#include "infer_test_support.h"

namespace {
namespace fs = std::filesystem;
using dinet::test::TempDir;

struct Fixture {
  TempDir dir;
  fs::path model;
  dinet::Avatar avatar;
  Fixture() {
    const auto clip = dinet::test::make_synth_clip(dir.path(), 2.0, 128);
    dinet::AvatarOptions options;
    options.landmark_csv = clip.csv;
    dinet::prepare_avatar(clip.video, dir / "avatar", options);
    avatar = dinet::load_avatar(dir / "avatar");
    model = dinet::test::save_random_model(dir / "mel64.pth", 64, dinet::audio_feature_spec("mel"));
  }
};

std::vector<int16_t> speech_like(size_t n) {
  std::vector<int16_t> pcm(n);
  for (size_t i = 0; i < n; ++i)
    pcm[i] = static_cast<int16_t>(9000 * std::sin(0.07 * i) * std::sin(0.0013 * i) + (i % 7) - 3);
  return pcm;
}

struct Collected {
  std::mutex mutex;
  std::vector<dinet::LiveFrame> frames;
  std::vector<std::chrono::steady_clock::time_point> times;
  void operator()(const dinet::LiveFrame& f) {
    std::lock_guard lock(mutex);
    frames.push_back(f);
    times.push_back(std::chrono::steady_clock::now());
  }
};

TEST(LiveSession, OneFramePer640SamplesWithTheAudioUnchanged) {
  Fixture fx;
  dinet::LiveModelOptions model_options;
  model_options.model_path = fx.model;
  const dinet::LiveModel model(model_options);
  EXPECT_EQ(model.mouth_region_size(), 64);
  Collected out;
  dinet::LiveSessionOptions options;
  options.real_time = false;
  options.batch_size = 3;
  dinet::LiveSession session(model, fx.avatar, [&](const dinet::LiveFrame& f) { out(f); }, options);
  const std::vector<int16_t> pcm = speech_like(640 * 30 + 100);
  for (size_t at = 0; at < pcm.size(); at += 1000)
    session.push_audio(std::span<const int16_t>(pcm.data() + at, std::min<size_t>(1000, pcm.size() - at)));
  session.finish();
  session.wait();
  ASSERT_EQ(out.frames.size(), 31u);
  std::vector<int16_t> played;
  for (size_t k = 0; k < out.frames.size(); ++k) {
    const auto& f = out.frames[k];
    EXPECT_EQ(f.index, static_cast<int64_t>(k));
    ASSERT_EQ(f.audio.size(), 640u);
    EXPECT_TRUE(f.speech);
    EXPECT_TRUE(f.generated);
    EXPECT_EQ(f.bgr.size(), cv::Size(fx.avatar.width, fx.avatar.height));
    played.insert(played.end(), f.audio.begin(), f.audio.end());
  }
  std::vector<int16_t> expected = pcm;
  expected.resize(31 * 640, 0);
  EXPECT_EQ(played, expected);
  // Only the lower face changes: the top rows are the avatar's own frame.
  const cv::Mat source = fx.avatar.frame(fx.avatar.loop.frame_at(5));
  const cv::Rect top(0, 0, source.cols, source.rows / 4);
  EXPECT_EQ(cv::norm(out.frames[5].bgr(top), source(top), cv::NORM_INF), 0);
  EXPECT_EQ(session.stats().frames, 31);
  EXPECT_EQ(session.stats().generated, 31);
}

TEST(LiveSession, RealTimeKeepsTheClockAndTheAudio) {
  Fixture fx;
  dinet::LiveModelOptions model_options;
  model_options.model_path = fx.model;
  const dinet::LiveModel model(model_options);
  Collected out;
  dinet::LiveSessionOptions options;
  options.threads = 2;
  dinet::LiveSession session(model, fx.avatar, [&](const dinet::LiveFrame& f) { out(f); }, options);
  // 0.4 s of idle, then 2 s of a stream in 20 ms pieces at real time.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const std::vector<int16_t> pcm = speech_like(32000);
  const auto stream_start = std::chrono::steady_clock::now();
  for (size_t at = 0; at < pcm.size(); at += 320) {
    session.push_audio(std::span<const int16_t>(pcm.data() + at, 320));
    std::this_thread::sleep_until(stream_start + std::chrono::milliseconds(20 * (at / 320 + 1)));
  }
  session.finish();
  session.wait();
  ASSERT_GT(out.frames.size(), 40u);
  const double seconds = std::chrono::duration<double>(out.times.back() - out.times.front()).count();
  const dinet::LiveStats stats = session.stats();
  std::printf("real time: %zu frames in %.2f s from the first; generated %lld, dropped %lld, skipped %lld, underruns %lld, "
              "latency p50 %.0f ms p95 %.0f ms, look-ahead %.1f ms, delay %.0f ms, %.1f ms/frame, mode %s\n",
              out.frames.size(), seconds, (long long)stats.generated, (long long)stats.dropped,
              (long long)stats.skipped, (long long)stats.underruns, stats.latency_p50_ms, stats.latency_p95_ms,
              stats.lookahead_ms, stats.delay_ms, stats.generate_ms_per_frame, stats.mode.c_str());
  // 25 frames a second of wall time, and every frame of the 2.4 s of audio.
  EXPECT_NEAR((out.frames.size() - 1) / seconds, 25.0, 1.0);
  EXPECT_NEAR(out.frames.size(), 60u, 1u);
  // In order, and the stream's samples all played, in order, from its first frame on.
  std::vector<int16_t> played;
  size_t first_speech = out.frames.size();
  for (size_t k = 0; k < out.frames.size(); ++k) {
    ASSERT_EQ(out.frames[k].index, static_cast<int64_t>(k));
    if (out.frames[k].speech && first_speech == out.frames.size()) first_speech = k;
    if (first_speech <= k) played.insert(played.end(), out.frames[k].audio.begin(), out.frames[k].audio.end());
  }
  EXPECT_GE(first_speech, 8u);  // 0.4 s idle first
  if (stats.underruns == 0) {
    ASSERT_GE(played.size(), pcm.size());
    EXPECT_TRUE(std::equal(pcm.begin(), pcm.end(), played.begin()));
  }
  EXPECT_GT(stats.latency_samples, 20);
}

TEST(LiveSession, NeedsAMelModel) {
  TempDir dir;
  const auto file = dinet::test::save_random_model(dir / "ds.pth", 64, dinet::audio_feature_spec("deepspeech"));
  dinet::LiveModelOptions options;
  options.model_path = file;
  const std::string error = dinet::test::error_of([&] { dinet::LiveModel model(options); });
  EXPECT_NE(error.find("live sessions need a mel model"), std::string::npos) << error;
  EXPECT_NE(error.find("ds.pth"), std::string::npos) << error;
}

}  // namespace
