// python_speech_features 0.6 `mfcc` on int16 samples at 16 kHz, with any number of cepstra:
// the DeepSpeech front end takes 26, the SyncNet of the LSE-C/LSE-D metrics 13.
// Computed in float64 like numpy, so the result matches to rounding.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "audio/spectrum.h"
#include "dinet/audio_features.h"
#include "dinet/error.h"

namespace dinet {
namespace {

constexpr int kRate = 16000;
constexpr int64_t kFrameLength = 400;  // 25 ms
constexpr int64_t kFrameStep = 160;    // 10 ms
constexpr int64_t kFft = 512;
constexpr int kFilters = 26;
constexpr int kLifter = 22;
constexpr double kPreemphasis = 0.97;

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

// python_speech_features get_filterbanks(26, 512, 16000, 0, 8000): triangles between FFT bins
// floor((nfft + 1) * hz / rate) of 28 points evenly spaced in mel.
const std::vector<audio::Filter>& mfcc_filters() {
  static const std::vector<audio::Filter> filters = [] {
    const double high = hz_to_mel(kRate / 2.0);
    std::vector<double> bin(kFilters + 2);
    for (int i = 0; i < kFilters + 2; ++i)
      bin[i] = std::floor((kFft + 1) * mel_to_hz(high * i / (kFilters + 1)) / kRate);
    std::vector<audio::Filter> out(kFilters);
    for (int j = 0; j < kFilters; ++j) {
      const auto lo = static_cast<int64_t>(bin[j]), mid = static_cast<int64_t>(bin[j + 1]),
                 hi = static_cast<int64_t>(bin[j + 2]);
      out[j].first_bin = lo;
      for (int64_t i = lo; i < mid; ++i) out[j].weights.push_back((i - bin[j]) / (bin[j + 1] - bin[j]));
      for (int64_t i = mid; i < hi; ++i)
        out[j].weights.push_back((bin[j + 2] - i) / (bin[j + 2] - bin[j + 1]));
    }
    return out;
  }();
  return filters;
}

}  // namespace

at::Tensor speech_features_mfcc(const std::vector<int16_t>& pcm, int cepstra) {
  if (cepstra < 1 || cepstra > kFilters)
    throw Error("MFCC: " + std::to_string(cepstra) + " cepstra asked of " + std::to_string(kFilters) +
                " filters");
  const auto n = static_cast<int64_t>(pcm.size());
  const int64_t frames =
      n <= kFrameLength ? 1 : 1 + (n - kFrameLength + kFrameStep - 1) / kFrameStep;
  // Pre-emphasis on the whole signal before framing, as python_speech_features does.
  std::vector<double> emphasised(n);
  for (int64_t i = 0; i < n; ++i)
    emphasised[i] = pcm[i] - (i > 0 ? kPreemphasis * pcm[i - 1] : 0.0);

  // Rectangular window; power spectrum scaled by 1 / NFFT.
  const at::Tensor power = audio::power_spectrum<double>(emphasised.data(), n, 0, kFrameStep,
                                                         frames, kFrameLength, kFft, {}) /
                           static_cast<double>(kFft);
  constexpr double eps = std::numeric_limits<double>::epsilon();  // numpy.finfo(float).eps
  const at::Tensor energy = power.sum(1);
  const at::Tensor bands = audio::apply_filters(power, mfcc_filters());
  const at::Tensor log_bands = at::where(bands == 0, eps, bands).log().contiguous();
  const at::Tensor log_energy = at::where(energy == 0, eps, energy).log().contiguous();

  // DCT-II with orthonormal scaling (the first `cepstra` rows), then the sinusoidal lifter;
  // c0 becomes log energy.
  at::Tensor out = at::empty({frames, cepstra}, at::kDouble);
  const double* lb = log_bands.data_ptr<double>();
  const double* le = log_energy.data_ptr<double>();
  double* o = out.data_ptr<double>();
  std::vector<double> dct(static_cast<size_t>(cepstra) * kFilters), lift(cepstra);
  for (int k = 0; k < cepstra; ++k) {
    for (int i = 0; i < kFilters; ++i)
      dct[k * kFilters + i] = std::sqrt((k == 0 ? 1.0 : 2.0) / kFilters) *
                              std::cos(std::numbers::pi * k * (2 * i + 1) / (2.0 * kFilters));
    lift[k] = 1.0 + (kLifter / 2.0) * std::sin(std::numbers::pi * k / kLifter);
  }
  for (int64_t r = 0; r < frames; ++r) {
    for (int k = 1; k < cepstra; ++k) {
      double sum = 0;
      for (int i = 0; i < kFilters; ++i) sum += dct[k * kFilters + i] * lb[r * kFilters + i];
      o[r * cepstra + k] = sum * lift[k];
    }
    o[r * cepstra] = le[r];
  }
  return out;
}

}  // namespace dinet
