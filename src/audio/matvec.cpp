#include "audio/matvec.h"

#include <cstring>

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

// bfloat16 -> float32 is a 16-bit shift: widen eight (AVX2) or sixteen (AVX-512) at a time.
__attribute__((target("avx2,fma"))) inline __m256 load_bf16x8(const uint16_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
}

__attribute__((target("avx2,fma"))) void matvec_bf16_avx2(const uint16_t* w, const float* x,
                                                          float* y, int64_t rows, int64_t cols) {
  const int64_t vector_cols = cols - cols % 8;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const uint16_t* w0 = w + r * cols;
    const uint16_t* w1 = w0 + cols;
    const uint16_t* w2 = w1 + cols;
    const uint16_t* w3 = w2 + cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t c = 0; c < vector_cols; c += 8) {
      const __m256 xv = _mm256_loadu_ps(x + c);
      a0 = _mm256_fmadd_ps(load_bf16x8(w0 + c), xv, a0);
      a1 = _mm256_fmadd_ps(load_bf16x8(w1 + c), xv, a1);
      a2 = _mm256_fmadd_ps(load_bf16x8(w2 + c), xv, a2);
      a3 = _mm256_fmadd_ps(load_bf16x8(w3 + c), xv, a3);
    }
    float s0 = sum_lanes(a0), s1 = sum_lanes(a1), s2 = sum_lanes(a2), s3 = sum_lanes(a3);
    for (int64_t c = vector_cols; c < cols; ++c) {
      s0 += from_bfloat16(w0[c]) * x[c];
      s1 += from_bfloat16(w1[c]) * x[c];
      s2 += from_bfloat16(w2[c]) * x[c];
      s3 += from_bfloat16(w3[c]) * x[c];
    }
    y[r] += s0;
    y[r + 1] += s1;
    y[r + 2] += s2;
    y[r + 3] += s3;
  }
  for (; r < rows; ++r) {
    float s = 0;
    for (int64_t c = 0; c < cols; ++c) s += from_bfloat16(w[r * cols + c]) * x[c];
    y[r] += s;
  }
}

// GCC 12 warns that the AVX-512 widening intrinsics read an undefined vector (their unused
// mask source); nothing is read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) inline __m512 load_bf16x16(const uint16_t* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}

__attribute__((target("avx512f"))) void matvec_bf16_avx512(const uint16_t* w, const float* x,
                                                           float* y, int64_t rows, int64_t cols) {
  const int64_t vector_cols = cols - cols % 16;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const uint16_t* w0 = w + r * cols;
    const uint16_t* w1 = w0 + cols;
    const uint16_t* w2 = w1 + cols;
    const uint16_t* w3 = w2 + cols;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t c = 0; c < vector_cols; c += 16) {
      const __m512 xv = _mm512_loadu_ps(x + c);
      a0 = _mm512_fmadd_ps(load_bf16x16(w0 + c), xv, a0);
      a1 = _mm512_fmadd_ps(load_bf16x16(w1 + c), xv, a1);
      a2 = _mm512_fmadd_ps(load_bf16x16(w2 + c), xv, a2);
      a3 = _mm512_fmadd_ps(load_bf16x16(w3 + c), xv, a3);
    }
    float s0 = _mm512_reduce_add_ps(a0), s1 = _mm512_reduce_add_ps(a1);
    float s2 = _mm512_reduce_add_ps(a2), s3 = _mm512_reduce_add_ps(a3);
    for (int64_t c = vector_cols; c < cols; ++c) {
      s0 += from_bfloat16(w0[c]) * x[c];
      s1 += from_bfloat16(w1[c]) * x[c];
      s2 += from_bfloat16(w2[c]) * x[c];
      s3 += from_bfloat16(w3[c]) * x[c];
    }
    y[r] += s0;
    y[r + 1] += s1;
    y[r + 2] += s2;
    y[r + 3] += s3;
  }
  for (; r < rows; ++r) {
    float s = 0;
    for (int64_t c = 0; c < cols; ++c) s += from_bfloat16(w[r * cols + c]) * x[c];
    y[r] += s;
  }
}
#pragma GCC diagnostic pop
#endif

// Any CPU: eight partial sums keep the loop free of one long dependency chain.
template <typename W, typename Widen>
void matvec_portable(const W* w, const float* x, float* y, int64_t rows, int64_t cols,
                     Widen widen) {
  for (int64_t r = 0; r < rows; ++r) {
    const W* row = w + r * cols;
    float partial[8] = {};
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8)
      for (int k = 0; k < 8; ++k) partial[k] += widen(row[c + k]) * x[c + k];
    float s = 0;
    for (; c < cols; ++c) s += widen(row[c]) * x[c];
    for (float p : partial) s += p;
    y[r] += s;
  }
}

}  // namespace

uint16_t to_bfloat16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float from_bfloat16(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

void to_bfloat16(const float* in, uint16_t* out, int64_t n) {
  for (int64_t k = 0; k < n; ++k) out[k] = to_bfloat16(in[k]);
}

void matvec_accumulate(const float* w, const float* x, float* y, int64_t rows, int64_t cols) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) return matvec_avx2(w, x, y, rows, cols);
#endif
  matvec_portable(w, x, y, rows, cols, [](float v) { return v; });
}

void matvec_accumulate(const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx512) return matvec_bf16_avx512(w, x, y, rows, cols);
  if (avx2) return matvec_bf16_avx2(w, x, y, rows, cols);
#endif
  matvec_portable(w, x, y, rows, cols, from_bfloat16);
}

}  // namespace dinet::audio
