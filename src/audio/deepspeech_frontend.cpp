// The published DeepSpeech front end (reference 2.1): int16 samples, python_speech_features 0.6
// `mfcc` with numcep=26 (speech_features_mfcc.cpp), then the 494-wide context windows of
// `deep_speech.py`.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "dinet/audio_features.h"
#include "dinet/error.h"

namespace dinet {
namespace {

constexpr int kRate = 16000;
constexpr int kCepstra = 26;
constexpr int kContext = 9;  // frames of context on each side of a DeepSpeech step

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

at::Tensor deepspeech_mfcc(const std::vector<int16_t>& pcm) { return speech_features_mfcc(pcm, kCepstra); }

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
