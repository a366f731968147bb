#include <opencv2/core.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>
#include <random>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/media.h"
#include "test_support.h"

using dinet::Audio;
using dinet::AudioChannels;
using dinet::VideoReader;
using dinet::VideoWriter;
using dinet::VideoWriterOptions;
using dinet::test::TempDir;
namespace fs = std::filesystem;

namespace {

using dinet::test::error_of;

// Smooth colour waves that move a little from frame to frame: easy for H.264, so a
// round trip should come back close.
cv::Mat pattern(int width, int height, int k) {
  cv::Mat m(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      m.at<cv::Vec3b>(y, x) = {
          cv::saturate_cast<uint8_t>(128 + 90 * std::sin(x / 23.0 + k * 0.1)),
          cv::saturate_cast<uint8_t>(128 + 90 * std::cos(y / 17.0 - k * 0.07)),
          cv::saturate_cast<uint8_t>(128 + 90 * std::sin((x + y) / 31.0))};
  return m;
}

cv::Mat flat(int width, int height, int level) {
  return cv::Mat(height, width, CV_8UC3, cv::Scalar::all(level));
}

Audio sine(int rate, double seconds, double hz, double amplitude) {
  Audio a;
  a.sample_rate = rate;
  a.samples.resize(size_t(std::llround(rate * seconds)));
  for (size_t i = 0; i < a.samples.size(); ++i)
    a.samples[i] = float(amplitude * std::sin(2 * std::numbers::pi * hz * double(i) / rate));
  return a;
}

void write_video(const fs::path& path, const std::vector<cv::Mat>& frames,
                 const VideoWriterOptions& options = {}, const Audio* audio = nullptr) {
  VideoWriter writer(path, frames.at(0).cols, frames.at(0).rows, options, audio);
  for (const auto& f : frames) writer.write(f);
  writer.finish();
}

std::vector<cv::Mat> read_all(const fs::path& path, double fps = 25.0) {
  VideoReader reader(path, fps);
  std::vector<cv::Mat> frames;
  cv::Mat f;
  while (reader.read(f)) frames.push_back(f);  // read() must not overwrite kept frames
  EXPECT_EQ(reader.frames_read(), int64_t(frames.size()));
  return frames;
}

int entries(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) (void)e, ++n;
  return n;
}

// A 16-bit PCM wav with interleaved channels, written by hand so the bytes are known.
void write_pcm_wav(const fs::path& path, int rate, int channels, const std::vector<int16_t>& pcm) {
  auto u32 = [](std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
  };
  auto u16 = [](std::string& s, uint16_t v) {
    s.push_back(char(v & 0xff));
    s.push_back(char(v >> 8));
  };
  std::string b = "RIFF";
  u32(b, uint32_t(36 + pcm.size() * 2));
  b += "WAVEfmt ";
  u32(b, 16), u16(b, 1), u16(b, uint16_t(channels)), u32(b, uint32_t(rate));
  u32(b, uint32_t(rate * channels * 2)), u16(b, uint16_t(channels * 2)), u16(b, 16);
  b += "data";
  u32(b, uint32_t(pcm.size() * 2));
  for (int16_t v : pcm) u16(b, uint16_t(v));
  dinet::write_file_atomic(path, b);
}

}  // namespace

TEST(VideoWriter, RoundTripKeepsFramesPixelsAndAllTheAudio) {
  TempDir dir;
  const auto path = dir / "clip.mp4";
  std::vector<cv::Mat> frames;
  for (int k = 0; k < 50; ++k) frames.push_back(pattern(160, 120, k));
  const Audio audio = sine(16000, 3.0, 440, 0.5);  // outlasts the 2 s of video
  write_video(path, frames, {}, &audio);
  EXPECT_EQ(entries(dir.path()), 1);

  VideoReader reader(path);
  EXPECT_EQ(reader.info().width, 160);
  EXPECT_EQ(reader.info().height, 120);
  EXPECT_EQ(reader.info().frame_count, 50);
  EXPECT_NEAR(reader.info().source_fps, 25.0, 1e-6);
  EXPECT_TRUE(reader.info().has_audio);
  EXPECT_EQ(reader.info().rotation_degrees, 0);

  const auto back = read_all(path);
  ASSERT_EQ(back.size(), 50u);
  for (int k = 0; k < 50; ++k) EXPECT_GT(cv::PSNR(back[k], frames[k]), 35.0) << "frame " << k;

  const Audio sound = dinet::load_audio(path, 16000);
  // Exactly: the AAC encoder's padding of the last frame is trimmed away.
  EXPECT_EQ(sound.samples.size(), 48000u);
  double energy = 0;
  for (float s : sound.samples) energy += double(s) * s;
  EXPECT_NEAR(std::sqrt(energy / sound.samples.size()), 0.5 / std::sqrt(2.0), 0.02);
}

TEST(VideoWriter, OddSizesArePaddedByRepeatingTheLastPixels) {
  TempDir dir;
  const auto path = dir / "odd.mp4";
  write_video(path, {pattern(33, 17, 0), pattern(33, 17, 1)});
  const auto back = read_all(path);
  ASSERT_EQ(back.size(), 2u);
  ASSERT_EQ(back[0].size(), cv::Size(34, 18));
  EXPECT_GT(cv::PSNR(back[1](cv::Rect(0, 0, 33, 17)), pattern(33, 17, 1)), 30.0);
}

TEST(VideoWriter, LeavesNothingWhenNotFinished) {
  TempDir dir;
  const auto path = dir / "never.mp4";
  {
    const Audio audio = sine(44100, 1.0, 300, 0.3);
    VideoWriter writer(path, 64, 48, {}, &audio);
    for (int k = 0; k < 5; ++k) writer.write(pattern(64, 48, k));
  }
  EXPECT_EQ(entries(dir.path()), 0);

  VideoWriterOptions bad;
  bad.preset = "warp-speed";
  const std::string message = error_of([&] { VideoWriter(path, 64, 48, bad); });
  EXPECT_NE(message.find("warp-speed"), std::string::npos) << message;
  EXPECT_EQ(entries(dir.path()), 0);

  VideoWriter writer(path, 64, 48);
  EXPECT_NE(error_of([&] { writer.write(pattern(48, 64, 0)); }).find("64x48"), std::string::npos);
}

TEST(VideoReader, AppliesRotationMetadata) {
  TempDir dir;
  for (int degrees : {90, 180, 270}) {
    const auto path = dir / ("rotated" + std::to_string(degrees) + ".mp4");
    VideoWriterOptions options;
    options.rotation_degrees = degrees;
    const cv::Mat upright = pattern(64, 32, 0);
    write_video(path, {upright}, options);

    VideoReader reader(path);
    EXPECT_EQ(reader.info().rotation_degrees, degrees);
    const bool quarter = degrees != 180;
    EXPECT_EQ(reader.info().width, quarter ? 32 : 64);
    EXPECT_EQ(reader.info().height, quarter ? 64 : 32);
    cv::Mat frame, expected;
    ASSERT_TRUE(reader.read(frame));
    cv::rotate(upright, expected,
               degrees == 90    ? cv::ROTATE_90_CLOCKWISE
               : degrees == 180 ? cv::ROTATE_180
                                : cv::ROTATE_90_COUNTERCLOCKWISE);
    EXPECT_GT(cv::PSNR(frame, expected), 30.0) << degrees;
  }
}

// Flat frames whose grey level encodes their index survive compression to +-2, so the
// source frame behind each output frame can be told exactly.
TEST(VideoReader, ResamplesToTheOutputRateByTimestamp) {
  TempDir dir;
  auto level_of = [](const cv::Mat& m) { return cv::mean(m)[0]; };
  {
    const auto path = dir / "fast.mp4";  // 20 frames at 50 fps: every other one is dropped
    std::vector<cv::Mat> frames;
    for (int k = 0; k < 20; ++k) frames.push_back(flat(64, 64, 20 + 10 * k));
    VideoWriterOptions options;
    options.fps = 50;
    write_video(path, frames, options);
    EXPECT_EQ(VideoReader(path).info().frame_count, 10);
    const auto back = read_all(path);
    ASSERT_EQ(back.size(), 10u);
    for (int k = 0; k < 10; ++k) EXPECT_NEAR(level_of(back[k]), 20 + 10 * (2 * k), 2) << k;
  }
  {
    const auto path = dir / "slow.mp4";  // 10 frames at 10 fps: shown 2 or 3 times each
    std::vector<cv::Mat> frames;
    for (int k = 0; k < 10; ++k) frames.push_back(flat(64, 64, 20 + 20 * k));
    VideoWriterOptions options;
    options.fps = 10;
    write_video(path, frames, options);
    const auto back = read_all(path);
    ASSERT_EQ(back.size(), 25u);
    for (int k = 0; k < 25; ++k) EXPECT_NEAR(level_of(back[k]), 20 + 20 * (k * 10 / 25), 2) << k;
  }
}

TEST(VideoReader, BadInputsGiveErrorsNamingTheFile) {
  TempDir dir;
  auto expect_error = [](const fs::path& path, const std::string& problem) {
    const std::string message = error_of([&] {
      VideoReader reader(path);
      cv::Mat f;
      while (reader.read(f)) {
      }
    });
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
  };
  expect_error(dir / "missing.mp4", "no such file");

  std::string noise(50000, '\0');
  std::mt19937 rng(7);
  for (char& c : noise) c = char(rng());
  dinet::write_file_atomic(dir / "noise.mp4", noise);
  expect_error(dir / "noise.mp4", "cannot open");
  dinet::write_file_atomic(dir / "notes.txt", "not a video at all\n");
  expect_error(dir / "notes.txt", "cannot open");

  dinet::write_wav(dir / "speech.wav", sine(16000, 0.5, 200, 0.1));
  expect_error(dir / "speech.wav", "no video stream");

  write_video(dir / "silent.mp4", {pattern(64, 48, 0)});
  const std::string message = error_of([&] { dinet::load_audio(dir / "silent.mp4"); });
  EXPECT_NE(message.find("no audio stream"), std::string::npos) << message;
}

TEST(VideoReader, TruncatedFilesFailCleanly) {
  TempDir dir;
  std::vector<cv::Mat> frames;
  for (int k = 0; k < 50; ++k) frames.push_back(pattern(96, 64, k));
  for (bool faststart : {false, true}) {
    const auto path = dir / "whole.mp4", cut = dir / "cut.mp4";
    VideoWriterOptions options;
    options.faststart = faststart;
    write_video(path, frames, options);
    const std::string bytes = dinet::read_file(path);
    dinet::write_file_atomic(cut, bytes.substr(0, bytes.size() / 2));
    try {
      // The index at the end: nothing to open. At the front: the frames that are there.
      const auto back = read_all(cut);
      EXPECT_TRUE(faststart);
      EXPECT_LT(back.size(), 50u);
    } catch (const dinet::Error& e) {
      EXPECT_NE(std::string(e.what()).find(cut.string()), std::string::npos) << e.what();
    }
  }
}

TEST(Audio, WavRoundTripIsExact) {
  TempDir dir;
  Audio audio;
  audio.sample_rate = 16000;
  for (int v = -32768; v < 32768; v += 7) audio.samples.push_back(float(v) / 32768.0f);
  dinet::write_wav(dir / "ramp.wav", audio);
  const Audio back = dinet::load_audio(dir / "ramp.wav", 16000);
  EXPECT_EQ(back.samples, audio.samples);
}

TEST(Audio, ChannelsAreAveragedOrTheFirstIsTaken) {
  TempDir dir;
  std::vector<int16_t> pcm;
  for (int i = 0; i < 1000; ++i) pcm.insert(pcm.end(), {int16_t(i * 30), int16_t(-i * 10)});
  write_pcm_wav(dir / "stereo.wav", 16000, 2, pcm);
  const Audio mixed = dinet::load_audio(dir / "stereo.wav", 16000);
  const Audio first = dinet::load_audio(dir / "stereo.wav", 16000, AudioChannels::first);
  ASSERT_EQ(mixed.samples.size(), 1000u);
  ASSERT_EQ(first.samples.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(first.samples[i], float(i * 30) / 32768.0f);
    EXPECT_FLOAT_EQ(mixed.samples[i], float(i * 10) / 32768.0f);
  }
}

TEST(Audio, ResamplingKeepsLengthAndWaveform) {
  const Audio high = sine(48000, 1.0, 1000, 0.5);
  const Audio low = dinet::resample(high, 16000);
  EXPECT_EQ(low.sample_rate, 16000);
  EXPECT_NEAR(double(low.samples.size()), 16000.0, 2.0);
  const Audio ideal = sine(16000, 1.0, 1000, 0.5);
  double worst = 0;
  for (size_t i = 100; i + 100 < std::min(low.samples.size(), ideal.samples.size()); ++i)
    worst = std::max(worst, double(std::abs(low.samples[i] - ideal.samples[i])));
  EXPECT_LT(worst, 1e-3);

  TempDir dir;
  dinet::write_wav(dir / "high.wav", high);
  const Audio loaded = dinet::load_audio(dir / "high.wav", 16000);
  EXPECT_NEAR(double(loaded.samples.size()), 16000.0, 2.0);
}

// ---- the real clips in ../shared/data/real (see SOURCES.md) ----------------------------

namespace {
fs::path real(const std::string& name) { return dinet::test::shared_dir() / "data/real" / name; }
}  // namespace

TEST(RealMedia, EveryClipDecodesToItsFrameCountAt25fps) {
  DINET_REQUIRE_SHARED();
  struct Clip {
    const char* name;
    int frames, width, height;
  };
  for (const Clip& clip : {Clip{"mimictalk_German_20s.mp4", 500, 512, 512},
                           Clip{"sadtalker_WDA_KatieHill_000.mp4", 200, 512, 512},
                           Clip{"videoretalking_face_2.mp4", 125, 844, 844},
                           Clip{"latentsync_demo2_video.mp4", 502, 1080, 1920}}) {
    VideoReader reader(real(clip.name));
    EXPECT_EQ(reader.info().frame_count, clip.frames) << clip.name;
    EXPECT_EQ(reader.info().width, clip.width) << clip.name;
    EXPECT_EQ(reader.info().height, clip.height) << clip.name;
    EXPECT_TRUE(reader.info().has_audio) << clip.name;
    cv::Mat frame;
    int n = 0;
    while (reader.read(frame)) {
      ASSERT_EQ(frame.size(), cv::Size(clip.width, clip.height)) << clip.name;
      ++n;
    }
    EXPECT_EQ(n, clip.frames) << clip.name;
  }
}

TEST(RealMedia, VariableFrameRateClipBecomesExactly25fps) {
  DINET_REQUIRE_SHARED();
  const auto path = real("videoretalking_face_1_30fps_vfr.mp4");
  VideoReader reader(path);
  const double duration = reader.info().duration_s;
  EXPECT_NEAR(duration, 6.13, 0.05);
  EXPECT_EQ(reader.info().width, 700);
  cv::Mat frame, previous;
  int n = 0, repeats = 0;
  while (reader.read(frame)) {
    if (n++ && cv::norm(frame, previous, cv::NORM_INF) == 0) ++repeats;
    frame.copyTo(previous);
  }
  EXPECT_NEAR(n, duration * 25, 1.0);
  // About 22 source frames a second become 25: some must be shown twice.
  EXPECT_GT(repeats, 0);
}

TEST(RealMedia, AudioDurations) {
  DINET_REQUIRE_SHARED();
  EXPECT_NEAR(dinet::load_audio(real("sadtalker_RD_Radio31_000.wav")).duration_s(), 8.0, 0.03);
  EXPECT_NEAR(dinet::load_audio(real("genefacepp_MacronSpeech.wav")).duration_s(), 11.861, 0.03);
  EXPECT_NEAR(dinet::load_audio(real("iplap_abstract.mp3")).duration_s(), 32.88, 0.03);
  EXPECT_NEAR(dinet::load_audio(real("sadtalker_WDA_KatieHill_000.mp4")).duration_s(), 8.0, 0.03);
}

// The AAC stream decodes to 882,688 samples, 688 of them the encoder's padding after the
// 20.000 s the file states; with them the clip's own audio would ask for a 501st frame.
TEST(RealMedia, AacPaddingIsTrimmedToTheStatedDuration) {
  DINET_REQUIRE_SHARED();
  EXPECT_EQ(dinet::load_audio(real("mimictalk_German_20s.mp4")).samples.size(), 320000u);
  EXPECT_EQ(dinet::load_audio(real("mimictalk_German_20s.mp4"), 44100).samples.size(), 882000u);
}

// The DeepSpeech front end must see exactly what the published code reads: channel 0 of
// the 16-bit samples, divided by 32768.
TEST(RealMedia, SixteenKilohertzWavChannelZeroIsExact) {
  DINET_REQUIRE_SHARED();
  const auto path = real("sadtalker_RD_Radio31_000.wav");
  const std::string bytes = dinet::read_file(path);
  size_t pos = 12, data = 0, size = 0;
  while (pos + 8 <= bytes.size()) {
    uint32_t chunk = 0;
    std::memcpy(&chunk, bytes.data() + pos + 4, 4);
    if (bytes.compare(pos, 4, "data") == 0) {
      data = pos + 8, size = chunk;
      break;
    }
    pos += 8 + chunk + (chunk & 1);
  }
  ASSERT_GT(data, 0u);
  const size_t frames = std::min<size_t>(size, bytes.size() - data) / 4;  // 2 channels x 16 bits
  const Audio audio = dinet::load_audio(path, 16000, AudioChannels::first);
  ASSERT_EQ(audio.samples.size(), frames);
  for (size_t i = 0; i < frames; ++i) {
    int16_t v;
    std::memcpy(&v, bytes.data() + data + 4 * i, 2);
    ASSERT_EQ(audio.samples[i], float(v) / 32768.0f) << "sample " << i;
  }
}
