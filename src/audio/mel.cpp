// The built-in log-mel feature: no model, any language. Four 10 ms hops per 40 ms video frame,
// stacked, so a feature row covers exactly its video frame and keeps 10 ms detail.
#include <ATen/ATen.h>

#include <cmath>
#include <numbers>

#include "audio/mel_bank.h"
#include "audio/spectrum.h"
#include "dinet/audio_features.h"

namespace dinet {
namespace audio {
namespace {

constexpr int kRate = 16000;
constexpr int64_t kHop = kMelHop;
constexpr int64_t kWindow = kMelWindow;
constexpr int64_t kFft = 512;

// librosa's default mel scale (Slaney): linear below 1 kHz, logarithmic above.
constexpr double kLinearHzPerMel = 200.0 / 3.0;
constexpr double kLogStartHz = 1000.0;
constexpr double kLogStartMel = kLogStartHz / kLinearHzPerMel;  // 15
const double kLogStep = std::log(6.4) / 27.0;

double hz_to_mel(double hz) {
  return hz < kLogStartHz ? hz / kLinearHzPerMel
                          : kLogStartMel + std::log(hz / kLogStartHz) / kLogStep;
}
double mel_to_hz(double mel) {
  return mel < kLogStartMel ? mel * kLinearHzPerMel
                            : kLogStartHz * std::exp(kLogStep * (mel - kLogStartMel));
}

// librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0, fmax=8000): triangles on the
// continuous frequency axis, each scaled to unit area ("slaney" norm).
const std::vector<audio::Filter>& mel_filters() {
  static const std::vector<audio::Filter> filters = [] {
    std::vector<double> edge(kMelBands + 2);
    const double top = hz_to_mel(kRate / 2.0);
    for (int i = 0; i < kMelBands + 2; ++i) edge[i] = mel_to_hz(top * i / (kMelBands + 1));
    std::vector<audio::Filter> out(kMelBands);
    for (int b = 0; b < kMelBands; ++b) {
      const double scale = 2.0 / (edge[b + 2] - edge[b]);
      for (int64_t k = 0; k <= kFft / 2; ++k) {
        const double hz = k * static_cast<double>(kRate) / kFft;
        const double rise = (hz - edge[b]) / (edge[b + 1] - edge[b]);
        const double fall = (edge[b + 2] - hz) / (edge[b + 2] - edge[b + 1]);
        const double w = std::max(0.0, std::min(rise, fall));
        if (w <= 0 && out[b].weights.empty()) continue;
        if (w <= 0) break;
        if (out[b].weights.empty()) out[b].first_bin = k;
        out[b].weights.push_back(w * scale);
      }
    }
    return out;
  }();
  return filters;
}

const std::vector<float>& hann_window() {
  // Periodic Hann (scipy/torch default for spectra).
  static const std::vector<float> window = [] {
    std::vector<float> w(kWindow);
    for (int64_t i = 0; i < kWindow; ++i)
      w[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / kWindow));
    return w;
  }();
  return window;
}

}  // namespace

at::Tensor log_mel_hops(const float* samples, int64_t n, int64_t first_sample, int64_t hops) {
  // Hop h's window is centred on the middle of its 10 ms: [160 h + 80 - 200, ... + 400).
  const at::Tensor power = power_spectrum<float>(samples, n, first_sample + kMelWindowStart, kHop, hops,
                                                 kWindow, kFft, hann_window());
  return apply_filters(power, mel_filters()).clamp_min(1e-20).log10_();
}

}  // namespace audio

at::Tensor mel_features(const Audio& audio) {
  const Audio at16k = audio.sample_rate == audio::kRate ? audio : resample(audio, audio::kRate);
  const auto n = static_cast<int64_t>(at16k.samples.size());
  const int64_t frames = feature_frame_count(n);
  const int64_t hops = frames * kMelHopsPerFrame;
  at::Tensor log_mel = audio::log_mel_hops(at16k.samples.data(), n, 0, hops);
  // The floor follows the peak, so the feature does not depend on the recording level, and
  // digital silence or padding cannot stretch the range.
  const double peak = log_mel.max().item<double>();
  log_mel.clamp_min_(peak - audio::kMelFloorDecades);
  const double mean = log_mel.mean().item<double>();
  const double std = (log_mel - mean).square().mean().sqrt().item<double>();
  log_mel.sub_(mean);
  if (std > 1e-6) log_mel.div_(std);
  return log_mel.reshape({frames, kMelChannels});
}

}  // namespace dinet
