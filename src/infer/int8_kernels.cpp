#include "infer/int8_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <type_traits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "dinet/cpu.h"

namespace dinet::infer {
namespace {

// One row of channels-last values, from channel `first` on. Scalar, for any CPU.
template <typename T>
void quantize_row(const T* in, const QuantizeParams& p, int64_t first, uint8_t* out, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    float v = static_cast<float>(in[c]);
    if (p.channel_scale) v = v * p.channel_scale[first + c] + p.channel_shift[first + c];
    v = std::min(std::max(v * p.inverse + p.zero_point, p.low), 255.f);
    out[c] = static_cast<uint8_t>(v + 0.5f);  // v >= 0: rounds half up
  }
}

// y = (addend ? addend : 0) + (q - zero_point) * q_scale over n values. Scalar, for any CPU.
template <typename T>
void dequantize_row(const uint8_t* q, float q_scale, int zero_point, const T* addend, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(static_cast<int>(q[i]) - zero_point) * q_scale;
    y[i] = static_cast<T>(addend ? static_cast<float>(addend[i]) + v : v);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same, 16 values at a time with AVX-512 (the scalar code compiled for the baseline ISA
// runs at a third of the speed); the remainder goes through the scalar loop.
template <typename T>
__attribute__((target("avx512f,avx512bw"))) __m512 load16(const T* p) {
  if constexpr (std::is_same_v<T, float>)
    return _mm512_loadu_ps(p);
  else  // bf16: the high half of a float
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

template <typename T>
__attribute__((target("avx512f,avx512bw"))) void quantize_row_avx512(const T* in, const QuantizeParams& p,
                                                                      int64_t first, uint8_t* out, int64_t n) {
  const __m512 inv = _mm512_set1_ps(p.inverse), zero_point = _mm512_set1_ps(p.zero_point),
               low = _mm512_set1_ps(p.low), top = _mm512_set1_ps(255.f);
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    __m512 v = load16(in + c);
    if (p.channel_scale)
      v = _mm512_fmadd_ps(v, _mm512_loadu_ps(p.channel_scale + first + c), _mm512_loadu_ps(p.channel_shift + first + c));
    v = _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(v, inv, zero_point), low), top);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c), _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(v)));
  }
  quantize_row(in + c, p, first + c, out + c, n - c);
}

// bf16 results are rounded to nearest even by the AVX512-BF16 conversion; only that variant
// runs that instruction, so the float one also serves AVX-512 CPUs without BF16 (the carrier
// is float32 there).
template <typename T>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void dequantize_row_avx512(const uint8_t* q, float q_scale,
                                                                                 int zero_point, const T* addend,
                                                                                 T* y, int64_t n) {
  const __m512 s = _mm512_set1_ps(q_scale);
  const __m512i zp = _mm512_set1_epi32(zero_point);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i raw = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(raw, zp)), s);
    if (addend) v = _mm512_add_ps(v, load16(addend + i));
    if constexpr (std::is_same_v<T, float>)
      _mm512_storeu_ps(y + i, v);
    else
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
  }
  dequantize_row(q + i, q_scale, zero_point, addend ? addend + i : nullptr, y + i, n - i);
}

#endif

template <typename T>
auto dequantize_row_function() {
  auto row = &dequantize_row<T>;
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_features().avx512 && (!std::is_same_v<T, c10::BFloat16> || cpu_features().avx512_bf16))
    row = &dequantize_row_avx512<T>;
#endif
  return row;
}

}  // namespace

template <typename T>
void quantize_rows(const T* x, const QuantizeParams& p, uint8_t* q, int64_t rows, int64_t channels) {
  auto row = &quantize_row<T>;
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_features().avx512) row = &quantize_row_avx512<T>;
#endif
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) row(x + r * channels, p, 0, q + r * channels, channels);
  });
}

template <typename T>
void dequantize_values(const uint8_t* q, float q_scale, int zero_point, const T* addend, T* y, int64_t n) {
  const auto run = dequantize_row_function<T>();
  constexpr int64_t kChunk = 1 << 14;
  at::parallel_for(0, (n + kChunk - 1) / kChunk, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t i = k * kChunk, count = std::min(kChunk, n - i);
      run(q + i, q_scale, zero_point, addend ? addend + i : nullptr, y + i, count);
    }
  });
}

template <typename T>
void dequantize_phases(const uint8_t* q, float q_scale, int zero_point, T* y, int64_t batch, int64_t height,
                       int64_t width, int64_t channels) {
  const auto row = dequantize_row_function<T>();
  at::parallel_for(0, batch * height, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / height, i = r % height;
      for (int64_t j = 0; j < width; ++j)
        for (int64_t phase = 0; phase < 4; ++phase) {
          const int64_t a = phase / 2, b = phase % 2;
          const uint8_t* from = q + (((n * (height + 1) + i + a) * (width + 1) + j + b) * 4 + phase) * channels;
          row(from, q_scale, zero_point, nullptr, y + ((r * width + j) * 4 + phase) * channels, channels);
        }
    }
  });
}

template void quantize_rows(const float*, const QuantizeParams&, uint8_t*, int64_t, int64_t);
template void quantize_rows(const c10::BFloat16*, const QuantizeParams&, uint8_t*, int64_t, int64_t);
template void dequantize_values(const uint8_t*, float, int, const float*, float*, int64_t);
template void dequantize_values(const uint8_t*, float, int, const c10::BFloat16*, c10::BFloat16*, int64_t);
template void dequantize_phases(const uint8_t*, float, int, float*, int64_t, int64_t, int64_t, int64_t);
template void dequantize_phases(const uint8_t*, float, int, c10::BFloat16*, int64_t, int64_t, int64_t, int64_t);

}  // namespace dinet::infer
