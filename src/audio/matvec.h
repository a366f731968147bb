// The matrix-vector product at the heart of the LSTM recurrence. One step needs all of the
// recurrent weights (64 MiB for DeepSpeech v0.1.0), so it is bound by memory bandwidth, and
// LibTorch's reference-BLAS `mv` reaches a third of that; this kernel streams the weights once.
#pragma once

#include <cstdint>

namespace dinet::audio {

// y[r] += dot(w[r * cols .. r * cols + cols), x) for r in [0, rows). w is row-major.
void matvec_accumulate(const float* w, const float* x, float* y, int64_t rows, int64_t cols);

}  // namespace dinet::audio
