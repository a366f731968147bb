#include "eval/lse_mfcc.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "dinet/audio_features.h"

namespace dinet::eval {

std::vector<int16_t> lse_pcm(const Audio& audio) {
  const Audio at16k = audio.sample_rate == 16000 ? audio : resample(audio, 16000);
  std::vector<int16_t> pcm(at16k.samples.size());
  for (size_t i = 0; i < pcm.size(); ++i) {
    // libswresample's float -> s16: lrintf(x * 32768), clipped (DeepSpeech's front end
    // truncates instead, as the published numpy code does).
    const double v = std::nearbyint(static_cast<double>(at16k.samples[i]) * 32768.0);
    pcm[i] = static_cast<int16_t>(std::clamp(v, -32768.0, 32767.0));
  }
  return pcm;
}

at::Tensor lse_mfcc(const std::vector<int16_t>& pcm) {
  return speech_features_mfcc(pcm, kLseCepstra).t().to(at::kFloat).contiguous();
}

}  // namespace dinet::eval
