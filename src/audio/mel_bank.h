// The unnormalised log-mel of the built-in feature, hop by hop, shared by the batch feature
// (mel.cpp) and the stream (mel_stream.h), so the two compute the same numbers.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>

namespace dinet::audio {

inline constexpr int64_t kMelHop = 160;     // 10 ms at 16 kHz
inline constexpr int64_t kMelWindow = 400;  // 25 ms
// Hop h's window starts here relative to 160 h (centred on the middle of its 10 ms).
inline constexpr int64_t kMelWindowStart = kMelHop / 2 - kMelWindow / 2;
inline constexpr double kMelFloorDecades = 8.0;  // the floor, 80 dB below the peak

// log10 of the 80 mel band powers (clamped at 1e-20) of `hops` hops, the first centred on
// the middle of [first_sample, first_sample + 160): (hops, 80). `samples` holds samples
// 0 .. n-1 of the signal as this call sees it; outside that range they count as zero.
at::Tensor log_mel_hops(const float* samples, int64_t n, int64_t first_sample, int64_t hops);

}  // namespace dinet::audio
