// The published DeepSpeech front end (reference 2.1): python_speech_features 0.6 `mfcc` with
// numcep=26 on int16 samples, then the 494-wide context windows of `deep_speech.py`.
// Computed in float64 like numpy, so the result matches to rounding.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <numbers>

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
constexpr int kCepstra = 26;
constexpr int kLifter = 22;
constexpr int kContext = 9;  // frames of context on each side of a DeepSpeech step
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

std::vector<int16_t> deepspeech_pcm(const Audio& audio) {
  const Audio at16k = audio.sample_rate == kRate ? audio : resample(audio, kRate);
  std::vector<int16_t> pcm(at16k.samples.size());
  for (size_t i = 0; i < pcm.size(); ++i) {
    // x * 32768 is exact in float, so a 16-bit source comes back unchanged.
    const double v = std::trunc(static_cast<double>(at16k.samples[i]) * 32768.0);
    pcm[i] = static_cast<int16_t>(std::clamp(v, -32768.0, 32767.0));
  }
  return pcm;
}

at::Tensor deepspeech_mfcc(const std::vector<int16_t>& pcm) {
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

  // DCT-II with orthonormal scaling, then the sinusoidal lifter; c0 becomes log energy.
  at::Tensor out = at::empty({frames, kCepstra}, at::kDouble);
  const double* lb = log_bands.data_ptr<double>();
  const double* le = log_energy.data_ptr<double>();
  double* o = out.data_ptr<double>();
  double dct[kCepstra][kFilters];
  for (int k = 0; k < kCepstra; ++k)
    for (int i = 0; i < kFilters; ++i)
      dct[k][i] = std::sqrt((k == 0 ? 1.0 : 2.0) / kFilters) *
                  std::cos(std::numbers::pi * k * (2 * i + 1) / (2.0 * kFilters));
  double lift[kCepstra];
  for (int k = 0; k < kCepstra; ++k)
    lift[k] = 1.0 + (kLifter / 2.0) * std::sin(std::numbers::pi * k / kLifter);
  for (int64_t r = 0; r < frames; ++r) {
    for (int k = 1; k < kCepstra; ++k) {
      double sum = 0;
      for (int i = 0; i < kFilters; ++i) sum += dct[k][i] * lb[r * kFilters + i];
      o[r * kCepstra + k] = sum * lift[k];
    }
    o[r * kCepstra] = le[r];
  }
  return out;
}

at::Tensor deepspeech_input_vectors(const at::Tensor& mfcc) {
  if (mfcc.dim() != 2 || mfcc.size(1) != kCepstra)
    throw Error("DeepSpeech input: expected MFCC of shape (frames, 26), got " +
                std::to_string(mfcc.dim()) + " dimensions");
  // Every second MFCC frame: the network's stride is 20 ms.
  const at::Tensor steps = mfcc.to(at::kDouble).slice(0, 0, mfcc.size(0), 2).contiguous();
  const int64_t count = steps.size(0);
  constexpr int64_t window = 2 * kContext + 1;
  at::Tensor out = at::zeros({count, window * kCepstra}, at::kDouble);
  const double* s = steps.data_ptr<double>();
  double* o = out.data_ptr<double>();
  for (int64_t t = 0; t < count; ++t)
    for (int64_t w = 0; w < window; ++w) {
      const int64_t src = t + w - kContext;  // outside [0, count): the zero padding
      if (src < 0 || src >= count) continue;
      std::copy(s + src * kCepstra, s + (src + 1) * kCepstra, o + (t * window + w) * kCepstra);
    }
  // One mean and one population std over the whole array, padding included (np.mean, np.std).
  const double mean = out.mean().item<double>();
  const double std = (out - mean).square().mean().sqrt().item<double>();
  out.sub_(mean);
  if (std > 0) out.div_(std);
  return out.to(at::kFloat);
}

}  // namespace dinet
