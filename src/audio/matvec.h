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

// int8 per row: weight (r, c) stands for scale[r] * q[r * cols + c], scale[r] = max |row r| /
// 127 (symmetric, rounded to nearest). A quarter of the float32 bytes, at an error of at most
// scale[r] / 2 per weight.
void quantize_rows_int8(const float* w, int64_t rows, int64_t cols, int8_t* q, float* scale);

// As matvec_accumulate with int8 weights q and their row scales; x, y and the sums stay
// float32, each row's sum is multiplied by its scale once.
void matvec_accumulate(const int8_t* q, const float* scale, const float* x, float* y,
                       int64_t rows, int64_t cols);

}  // namespace dinet::audio
