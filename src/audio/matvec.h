// The matrix-vector product at the heart of the LSTM recurrence. One step needs all of the
// recurrent weights (64 MiB for DeepSpeech v0.1.0), so it is bound by memory bandwidth, and
// LibTorch's reference-BLAS `mv` reaches a third of that; these kernels stream the weights once.
#pragma once

#include <cstdint>

namespace dinet::audio {

// y[r] += dot(w[r * cols .. r * cols + cols), x) for r in [0, rows). w is row-major.
void matvec_accumulate(const float* w, const float* x, float* y, int64_t rows, int64_t cols);

// bfloat16: the upper 16 bits of a float32 (8-bit exponent, 7-bit mantissa). Half the bytes
// per weight, so half the memory traffic of a bandwidth-bound product, at a relative rounding
// error of at most 2^-9 per weight.
uint16_t to_bfloat16(float v);  // round to nearest, ties to even; NaN stays NaN
float from_bfloat16(uint16_t v);
void to_bfloat16(const float* in, uint16_t* out, int64_t n);

// As matvec_accumulate with bfloat16 weights; x, y and the sums stay float32.
void matvec_accumulate(const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols);

}  // namespace dinet::audio
