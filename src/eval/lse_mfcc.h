// The audio input of the LSE SyncNet (joonson/syncnet_python, SyncNetInstance.evaluate): the
// audio as its pipeline extracts it (ffmpeg -ac 1 -ar 16000, 16-bit PCM), then
// python_speech_features.mfcc(audio, 16000) with its defaults on the raw int16 values.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <vector>

#include "dinet/media.h"

namespace dinet::eval {

inline constexpr int kLseCepstra = 13;
inline constexpr int kLseMfccPerFrame = 4;  // 10 ms MFCC steps per 40 ms video frame
inline constexpr int kLseMfccWindow = 20;   // MFCC steps per 5-frame window
inline constexpr int kLseSamplesPerFrame = 640;  // 16 kHz samples per 25 fps frame

// Mono 16 kHz int16 samples as ffmpeg's `-ac 1 -ar 16000 -acodec pcm_s16le` gives them: the
// mean of the channels (`audio` is already mono), resampled, rounded to nearest and clipped.
std::vector<int16_t> lse_pcm(const Audio& audio);

// (13, N_mfcc) float32: speech_features_mfcc(pcm, 13) transposed, columns in time, as the
// network reads it (window of video frame i: columns 4 i .. 4 i + 20).
at::Tensor lse_mfcc(const std::vector<int16_t>& pcm);

}  // namespace dinet::eval
