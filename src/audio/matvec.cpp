#include "audio/matvec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "dinet/cpu.h"

namespace dinet::audio {
namespace {

// One weight widened to float32, for the columns and rows the vector loops leave over.
float widen(float v) { return v; }
float widen(uint16_t v) { return from_bfloat16(v); }
float widen(int8_t v) { return static_cast<float>(v); }

// The factor a row's sum is multiplied by: int8 rows carry one, the others none (exactly 1).
float row_scale(const float* scale, int64_t r) { return scale ? scale[r] : 1.0f; }

// `s` plus row . x over columns [from, to), summed in column order.
template <typename W>
float row_dot(const W* row, const float* x, int64_t from, int64_t to, float s = 0) {
  for (int64_t c = from; c < to; ++c) s += widen(row[c]) * x[c];
  return s;
}

#if defined(__x86_64__)
// Each kernel below takes four rows at a time, which share each load of x; every row keeps its
// own vector of partial sums. `Load` widens one vector's worth of weights to float32.

__attribute__((target("avx2,fma"))) float sum_lanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) inline __m256 load_fp32x8(const float* p) {
  return _mm256_loadu_ps(p);
}

// bfloat16 -> float32 is a 16-bit shift: widen eight (AVX2) or sixteen (AVX-512) at a time.
__attribute__((target("avx2,fma"))) inline __m256 load_bf16x8(const uint16_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
}

__attribute__((target("avx2,fma"))) inline __m256 load_int8x8(const int8_t* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

template <typename W, __m256 (*Load)(const W*)>
__attribute__((target("avx2,fma"))) void matvec_avx2(const W* w, const float* scale,
                                                     const float* x, float* y, int64_t rows,
                                                     int64_t cols) {
  const int64_t vector_cols = cols - cols % 8;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const W* w0 = w + r * cols;
    const W* w1 = w0 + cols;
    const W* w2 = w1 + cols;
    const W* w3 = w2 + cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t c = 0; c < vector_cols; c += 8) {
      const __m256 xv = _mm256_loadu_ps(x + c);
      a0 = _mm256_fmadd_ps(Load(w0 + c), xv, a0);
      a1 = _mm256_fmadd_ps(Load(w1 + c), xv, a1);
      a2 = _mm256_fmadd_ps(Load(w2 + c), xv, a2);
      a3 = _mm256_fmadd_ps(Load(w3 + c), xv, a3);
    }
    y[r] += row_dot(w0, x, vector_cols, cols, sum_lanes(a0)) * row_scale(scale, r);
    y[r + 1] += row_dot(w1, x, vector_cols, cols, sum_lanes(a1)) * row_scale(scale, r + 1);
    y[r + 2] += row_dot(w2, x, vector_cols, cols, sum_lanes(a2)) * row_scale(scale, r + 2);
    y[r + 3] += row_dot(w3, x, vector_cols, cols, sum_lanes(a3)) * row_scale(scale, r + 3);
  }
  for (; r < rows; ++r) y[r] += row_dot(w + r * cols, x, 0, cols) * row_scale(scale, r);
}

// GCC 12 warns that the AVX-512 widening intrinsics read an undefined vector (their unused
// mask source); nothing is read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) inline __m512 load_bf16x16(const uint16_t* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}

__attribute__((target("avx512f"))) inline __m512 load_int8x16(const int8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v));
}

template <typename W, __m512 (*Load)(const W*)>
__attribute__((target("avx512f"))) void matvec_avx512(const W* w, const float* scale,
                                                      const float* x, float* y, int64_t rows,
                                                      int64_t cols) {
  const int64_t vector_cols = cols - cols % 16;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const W* w0 = w + r * cols;
    const W* w1 = w0 + cols;
    const W* w2 = w1 + cols;
    const W* w3 = w2 + cols;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t c = 0; c < vector_cols; c += 16) {
      const __m512 xv = _mm512_loadu_ps(x + c);
      a0 = _mm512_fmadd_ps(Load(w0 + c), xv, a0);
      a1 = _mm512_fmadd_ps(Load(w1 + c), xv, a1);
      a2 = _mm512_fmadd_ps(Load(w2 + c), xv, a2);
      a3 = _mm512_fmadd_ps(Load(w3 + c), xv, a3);
    }
    y[r] += row_dot(w0, x, vector_cols, cols, _mm512_reduce_add_ps(a0)) * row_scale(scale, r);
    y[r + 1] +=
        row_dot(w1, x, vector_cols, cols, _mm512_reduce_add_ps(a1)) * row_scale(scale, r + 1);
    y[r + 2] +=
        row_dot(w2, x, vector_cols, cols, _mm512_reduce_add_ps(a2)) * row_scale(scale, r + 2);
    y[r + 3] +=
        row_dot(w3, x, vector_cols, cols, _mm512_reduce_add_ps(a3)) * row_scale(scale, r + 3);
  }
  for (; r < rows; ++r) y[r] += row_dot(w + r * cols, x, 0, cols) * row_scale(scale, r);
}
#pragma GCC diagnostic pop

#endif

// Any CPU: eight partial sums keep the loop free of one long dependency chain.
template <typename W>
void matvec_portable(const W* w, const float* scale, const float* x, float* y, int64_t rows,
                     int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const W* row = w + r * cols;
    float partial[8] = {};
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8)
      for (int k = 0; k < 8; ++k) partial[k] += widen(row[c + k]) * x[c + k];
    float s = row_dot(row, x, c, cols);
    for (float p : partial) s += p;
    y[r] += s * row_scale(scale, r);
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

void quantize_rows_int8(const float* w, int64_t rows, int64_t cols, int8_t* q, float* scale) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    float largest = 0;
    for (int64_t c = 0; c < cols; ++c) largest = std::max(largest, std::abs(row[c]));
    scale[r] = largest / 127;
    const float inverse = largest > 0 ? 127 / largest : 0;
    for (int64_t c = 0; c < cols; ++c) {
      const float step = std::clamp(std::round(row[c] * inverse), -127.0f, 127.0f);
      q[r * cols + c] = static_cast<int8_t>(step);
    }
  }
}

void matvec_accumulate(const float* w, const float* x, float* y, int64_t rows, int64_t cols) {
#if defined(__x86_64__)
  if (cpu_features().avx2_fma) return matvec_avx2<float, load_fp32x8>(w, nullptr, x, y, rows, cols);
#endif
  matvec_portable(w, nullptr, x, y, rows, cols);
}

void matvec_accumulate(const uint16_t* w, const float* x, float* y, int64_t rows, int64_t cols) {
#if defined(__x86_64__)
  if (cpu_features().avx512) return matvec_avx512<uint16_t, load_bf16x16>(w, nullptr, x, y, rows, cols);
  if (cpu_features().avx2_fma) return matvec_avx2<uint16_t, load_bf16x8>(w, nullptr, x, y, rows, cols);
#endif
  matvec_portable(w, nullptr, x, y, rows, cols);
}

void matvec_accumulate(const int8_t* w, const float* scale, const float* x, float* y,
                       int64_t rows, int64_t cols) {
#if defined(__x86_64__)
  if (cpu_features().avx512) return matvec_avx512<int8_t, load_int8x16>(w, scale, x, y, rows, cols);
  if (cpu_features().avx2_fma) return matvec_avx2<int8_t, load_int8x8>(w, scale, x, y, rows, cols);
#endif
  matvec_portable(w, scale, x, y, rows, cols);
}

}  // namespace dinet::audio
