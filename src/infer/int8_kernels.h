// The vector loops of the int8 path (infer/int8_ops.h), on plain arrays of channels-last rows:
// AVX-512 where the CPU has it (dinet/cpu.h), a scalar loop elsewhere and for the remainder
// of each row. ATen's quantize_per_tensor and dequantize took 23 and 26 ms per 8.5 M values
// here; these, fused with the neighbouring affine map or sum, under 2.
#pragma once

#include <c10/util/BFloat16.h>

#include <cstdint>

namespace dinet::infer {

// q = round(clamp(f(x) / q_scale + zero_point, low, 255)) with f(x) = x * channel_scale[c] +
// channel_shift[c] (or x when there are none) and low = zero_point after a ReLU (negative
// values become zero), 0 otherwise.
struct QuantizeParams {
  const float* channel_scale = nullptr;
  const float* channel_shift = nullptr;
  float inverse = 1, zero_point = 0, low = 0;
};

// `rows` rows of `channels` values each, in parallel over the rows. T: float or c10::BFloat16.
template <typename T>
void quantize_rows(const T* x, const QuantizeParams& p, uint8_t* q, int64_t rows, int64_t channels);

// y = (addend ? addend : 0) + (q - zero_point) * q_scale over n values, in parallel.
template <typename T>
void dequantize_values(const uint8_t* q, float q_scale, int zero_point, const T* addend, T* y, int64_t n);

// The padded phase convolution's output (B, 4C, h + 1, w + 1) as UpBlock::space_to_depth lays
// it out: (B, 4C, h, w) with phase (a, b) of pixel (i, j) read at (i + a, j + b); both
// channels-last, in parallel over the B x h output rows.
template <typename T>
void dequantize_phases(const uint8_t* q, float q_scale, int zero_point, T* y, int64_t batch, int64_t height,
                       int64_t width, int64_t channels);

}  // namespace dinet::infer
