#include "audio/matvec.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dinet::audio {
namespace {

#if defined(__x86_64__)
// Four rows at a time share each load of x; eight lanes per row accumulate independently.
__attribute__((target("avx2,fma"))) float sum_lanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) void matvec_avx2(const float* w, const float* x, float* y,
                                                     int64_t rows, int64_t cols) {
  const int64_t vector_cols = cols - cols % 8;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* w0 = w + r * cols;
    const float* w1 = w0 + cols;
    const float* w2 = w1 + cols;
    const float* w3 = w2 + cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t c = 0; c < vector_cols; c += 8) {
      const __m256 xv = _mm256_loadu_ps(x + c);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + c), xv, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + c), xv, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + c), xv, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + c), xv, a3);
    }
    float s0 = sum_lanes(a0), s1 = sum_lanes(a1), s2 = sum_lanes(a2), s3 = sum_lanes(a3);
    for (int64_t c = vector_cols; c < cols; ++c) {
      s0 += w0[c] * x[c];
      s1 += w1[c] * x[c];
      s2 += w2[c] * x[c];
      s3 += w3[c] * x[c];
    }
    y[r] += s0;
    y[r + 1] += s1;
    y[r + 2] += s2;
    y[r + 3] += s3;
  }
  for (; r < rows; ++r) {
    float s = 0;
    for (int64_t c = 0; c < cols; ++c) s += w[r * cols + c] * x[c];
    y[r] += s;
  }
}
#endif

// Any CPU: eight partial sums keep the loop free of one long dependency chain.
void matvec_portable(const float* w, const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    float partial[8] = {};
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8)
      for (int k = 0; k < 8; ++k) partial[k] += row[c + k] * x[c + k];
    float s = 0;
    for (; c < cols; ++c) s += row[c] * x[c];
    for (float p : partial) s += p;
    y[r] += s;
  }
}

}  // namespace

void matvec_accumulate(const float* w, const float* x, float* y, int64_t rows, int64_t cols) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) return matvec_avx2(w, x, y, rows, cols);
#endif
  matvec_portable(w, x, y, rows, cols);
}

}  // namespace dinet::audio
