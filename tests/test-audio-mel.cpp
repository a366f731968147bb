// The built-in log-mel feature: shape, frame count, timing against video frames, band
// placement, level invariance, and agreement with a plain-loop DFT reading of its definition.
#include <ATen/ATen.h>

#include <cmath>
#include <numbers>

#include "dinet/audio_features.h"
#include "dinet/media.h"
#include "test_support.h"

namespace {

constexpr double kPi = std::numbers::pi;

dinet::Audio tone_burst(double seconds, double hz, int64_t from, int64_t to, float level = 0.5f) {
  dinet::Audio audio;
  audio.samples.assign(static_cast<size_t>(seconds * 16000), 0.0f);
  uint32_t noise = 1;
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    noise = noise * 1664525u + 1013904223u;  // a faint noise floor, so silence is not digital
    audio.samples[i] = 1e-4f * (static_cast<float>(noise >> 8) / (1 << 24) - 0.5f);
    if (static_cast<int64_t>(i) >= from && static_cast<int64_t>(i) < to)
      audio.samples[i] += level * static_cast<float>(std::sin(2 * kPi * hz * i / 16000));
  }
  return audio;
}

// Slaney mel scale, written out again from librosa's definition.
double mel(double hz) { return hz < 1000 ? hz * 3 / 200 : 15 + 27 * std::log(hz / 1000) / std::log(6.4); }

}  // namespace

TEST(MelFeatures, OneRowOf320PerVideoFrame) {
  for (double seconds : {0.01, 1.0, 8.0, 10.0, 10.03}) {
    const dinet::Audio audio = tone_burst(seconds, 440, 0, 100);
    const at::Tensor f = dinet::mel_features(audio);
    EXPECT_EQ(f.size(0), dinet::feature_frame_count(audio.samples.size())) << seconds;
    EXPECT_EQ(f.size(1), dinet::kMelChannels);
    EXPECT_TRUE(f.isfinite().all().item<bool>());
  }
  EXPECT_EQ(dinet::mel_features(tone_burst(10.0, 440, 0, 100)).size(0), 250);
  EXPECT_EQ(dinet::audio_feature_spec("mel").channels, 320);
}

TEST(MelFeatures, SameRowCountAsDeepSpeech) {
  for (int64_t n : {1000, 16123, 16640, 31999, 128000, 160001}) {
    dinet::Audio audio = tone_burst(n / 16000.0, 440, 0, n);
    audio.samples.resize(n);
    const at::Tensor inputs =
        dinet::deepspeech_input_vectors(dinet::deepspeech_mfcc(dinet::deepspeech_pcm(audio)));
    EXPECT_EQ(dinet::mel_features(audio).size(0), (inputs.size(0) + 1) / 2) << n;
  }
}

TEST(MelFeatures, ABurstLandsInItsVideoFrame) {
  // 1 kHz exactly during video frame 10: [400 ms, 440 ms).
  const at::Tensor f = dinet::mel_features(tone_burst(1.0, 1000, 6400, 7040));
  const at::Tensor hops = f.reshape({-1, dinet::kMelBands});  // one row per 10 ms hop
  const at::Tensor loudness = std::get<0>(hops.max(1));
  for (int64_t h = 0; h < hops.size(0); ++h) {
    // Frame 10's four hops are loud; hops of other frames only see the 25 ms window's edge.
    if (h >= 40 && h < 44)
      EXPECT_GT(loudness[h].item<float>(), 2.0f) << h;
    else if (h < 39 || h > 44)
      EXPECT_LT(loudness[h].item<float>(), 0.0f) << h;
  }
}

TEST(MelFeatures, ToneFallsInItsMelBand) {
  for (double hz : {300.0, 1000.0, 2500.0, 6000.0}) {
    const at::Tensor f = dinet::mel_features(tone_burst(1.0, hz, 0, 16000));
    const int64_t band = f.reshape({-1, dinet::kMelBands}).mean(0).argmax().item<int64_t>();
    // Band b peaks at the mel point b + 1 of 82 spaced evenly up to 8 kHz.
    const double expected = mel(hz) / mel(8000.0) * 81 - 1;
    EXPECT_NEAR(double(band), expected, 1.0) << hz;
  }
}

TEST(MelFeatures, IndependentOfRecordingLevel) {
  const dinet::Audio loud = tone_burst(2.0, 700, 3000, 20000, 0.5f);
  dinet::Audio quiet = loud;
  for (float& s : quiet.samples) s *= 0.01f;
  const double diff =
      (dinet::mel_features(loud) - dinet::mel_features(quiet)).abs().max().item<double>();
  EXPECT_LT(diff, 1e-3);
}

TEST(MelFeatures, MatchesAPlainDftReading) {
  const dinet::Audio audio = tone_burst(0.3, 523, 1000, 4000);
  const int64_t n = audio.samples.size(), frames = dinet::feature_frame_count(n);
  const int64_t hops = frames * 4;
  // librosa.filters.mel(sr=16000, n_fft=512, n_mels=80) with the Slaney norm.
  auto inverse = [](double m) { return m < 15 ? m * 200 / 3 : 1000 * std::pow(6.4, (m - 15) / 27); };
  std::vector<double> edge(82);
  for (int i = 0; i < 82; ++i) edge[i] = inverse(mel(8000.0) * i / 81);
  at::Tensor log_mel = at::zeros({hops, 80}, at::kDouble);
  for (int64_t h = 0; h < hops; ++h) {
    std::vector<double> power(257, 0.0);
    for (int64_t k = 0; k < 257; ++k) {
      double re = 0, im = 0;
      for (int64_t i = 0; i < 400; ++i) {
        const int64_t s = 160 * h + 80 - 200 + i;
        if (s < 0 || s >= n) continue;
        const double x = audio.samples[s] * (0.5 - 0.5 * std::cos(2 * kPi * i / 400));
        re += x * std::cos(2 * kPi * k * i / 512);
        im -= x * std::sin(2 * kPi * k * i / 512);
      }
      power[k] = re * re + im * im;
    }
    for (int b = 0; b < 80; ++b) {
      double sum = 0;
      for (int64_t k = 0; k < 257; ++k) {
        const double hz = k * 16000.0 / 512;
        const double w = std::max(0.0, std::min((hz - edge[b]) / (edge[b + 1] - edge[b]),
                                                (edge[b + 2] - hz) / (edge[b + 2] - edge[b + 1])));
        sum += w * 2 / (edge[b + 2] - edge[b]) * power[k];
      }
      log_mel[h][b] = std::log10(std::max(sum, 1e-20));
    }
  }
  log_mel.clamp_min_(log_mel.max().item<double>() - 8);
  log_mel = (log_mel - log_mel.mean()) / (log_mel - log_mel.mean()).square().mean().sqrt();
  const at::Tensor ours = dinet::mel_features(audio).reshape({hops, 80}).to(at::kDouble);
  EXPECT_LT((ours - log_mel).abs().max().item<double>(), 1e-3);
}

TEST(MelFeatures, RealSpeech) {
  DINET_REQUIRE_SHARED();
  const auto wav = dinet::test::shared_dir() / "data" / "real" / "sadtalker_RD_Radio31_000.wav";
  const at::Tensor f = dinet::AudioFeatureExtractor({"mel", {}}).compute(wav);
  EXPECT_EQ(f.size(0), 200);
  EXPECT_EQ(f.size(1), 320);
  EXPECT_NEAR(f.mean().item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(f.std(false).item<double>(), 1.0, 1e-3);
}
