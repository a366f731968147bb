#include "infer/int8.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <type_traits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "dinet/error.h"

namespace dinet::infer {
namespace {

// The first batch's maximum may be exceeded by later frames (a wider mouth, other light);
// values above the range saturate. 1.5x costs about half a bit of resolution.
constexpr double kHeadroom = 1.5;

void select_engine() {
  static const bool selected = [] {
    if (!int8_available()) throw Error("--precision int8: this LibTorch has no oneDNN quantized engine; use bf16 or fp32");
    at::globalContext().setQEngine(at::kONEDNN);
    return true;
  }();
  (void)selected;
}

c10::OperatorHandle op(const char* name, const char* overload) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
}

at::Tensor empty_quint8(const at::Tensor& like, double scale) {
  return at::_empty_affine_quantized(like.sizes(), at::device(at::kCPU).dtype(at::kQUInt8), scale, 0,
                                     at::MemoryFormat::ChannelsLast);
}

// The loops below walk channels-last memory: rows of pixels, each `channels` values long.
void require_channels_last(const at::Tensor& x, const char* what) {
  if (x.dim() != 4 || !x.is_contiguous(at::MemoryFormat::ChannelsLast) || !x.device().is_cpu())
    throw Error(std::string("int8 ") + what + ": expected a channels-last CPU tensor");
}

// One row of channels-last values: q = round(clamp(relu(x * scale + shift) / q_scale, 0, 255)),
// scale and shift per channel or none. Scalar, for any CPU.
template <typename T>
void quantize_row(const T* in, const float* scale, const float* shift, float inverse, uint8_t* out, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    float v = static_cast<float>(in[c]);
    if (scale) v = v * scale[c] + shift[c];
    v = std::min(std::max(v * inverse, 0.f), 255.f);
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
__attribute__((target("avx512f,avx512bw"))) void quantize_row_avx512(const T* in, const float* scale,
                                                                      const float* shift, float inverse,
                                                                      uint8_t* out, int64_t n) {
  const __m512 inv = _mm512_set1_ps(inverse), top = _mm512_set1_ps(255.f), zero = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    __m512 v = load16(in + c);
    if (scale) v = _mm512_fmadd_ps(v, _mm512_loadu_ps(scale + c), _mm512_loadu_ps(shift + c));
    v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, inv), zero), top);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c), _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(v)));
  }
  quantize_row(in + c, scale ? scale + c : nullptr, shift ? shift + c : nullptr, inverse, out + c, n - c);
}

// bf16 results are rounded to nearest even by the AVX512-BF16 conversion, so that variant
// needs that extension (every CPU with a bf16 carrier has it).
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

bool has_avx512(bool bf16) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bw") && (!bf16 || __builtin_cpu_supports("avx512bf16"));
}
#endif

template <typename T>
void quantize_relu(const T* x, const float* scale, const float* shift, float inverse, uint8_t* q, int64_t rows,
                   int64_t channels) {
  auto row = &quantize_row<T>;
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_avx512(false)) row = &quantize_row_avx512<T>;
#endif
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) row(x + r * channels, scale, shift, inverse, q + r * channels, channels);
  });
}

template <typename T>
void dequantize_into(const uint8_t* q, float q_scale, int zero_point, const T* addend, T* y, int64_t n) {
  auto run = &dequantize_row<T>;
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_avx512(true)) run = &dequantize_row_avx512<T>;
#endif
  constexpr int64_t kChunk = 1 << 14;
  at::parallel_for(0, (n + kChunk - 1) / kChunk, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t i = k * kChunk, count = std::min(kChunk, n - i);
      run(q + i, q_scale, zero_point, addend ? addend + i : nullptr, y + i, count);
    }
  });
}

// Quantizes relu(x * scale + shift) (scale undefined: relu(x)) into a new quint8 tensor.
at::Tensor quantize(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift, double q_scale) {
  RECORD_FUNCTION("dinet::quantize", std::vector<c10::IValue>{});  // a row of `dinet-bench infer-profile`
  require_channels_last(x, "quantize");
  at::Tensor q = empty_quint8(x, q_scale);
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  const float* s = scale.defined() ? scale.data_ptr<float>() : nullptr;
  const float* b = shift.defined() ? shift.data_ptr<float>() : nullptr;
  auto* out = reinterpret_cast<uint8_t*>(q.data_ptr());
  const float inverse = static_cast<float>(1 / q_scale);
  if (x.scalar_type() == at::kBFloat16)
    quantize_relu(x.data_ptr<at::BFloat16>(), s, b, inverse, out, rows, channels);
  else if (x.scalar_type() == at::kFloat)
    quantize_relu(x.data_ptr<float>(), s, b, inverse, out, rows, channels);
  else
    throw Error("int8 quantize: expected float32 or bf16 activations");
  return q;
}

// dequantize(q), plus `addend` (same shape, channels-last) when defined, in the carrier `dtype`.
at::Tensor dequantize(const at::Tensor& q, const at::Tensor& addend, at::ScalarType dtype) {
  RECORD_FUNCTION("dinet::dequantize", std::vector<c10::IValue>{});
  require_channels_last(q, "dequantize");
  if (addend.defined()) require_channels_last(addend, "dequantize");
  at::Tensor y = at::empty(q.sizes(), at::device(at::kCPU).dtype(dtype).memory_format(at::MemoryFormat::ChannelsLast));
  const auto* in = reinterpret_cast<const uint8_t*>(q.data_ptr());
  const auto scale = static_cast<float>(q.q_scale());
  const auto zero = static_cast<int>(q.q_zero_point());
  if (dtype == at::kBFloat16)
    dequantize_into(in, scale, zero, addend.defined() ? addend.data_ptr<at::BFloat16>() : nullptr,
                    y.data_ptr<at::BFloat16>(), y.numel());
  else
    dequantize_into(in, scale, zero, addend.defined() ? addend.data_ptr<float>() : nullptr, y.data_ptr<float>(),
                    y.numel());
  return y;
}

}  // namespace

bool int8_available() {
  const auto& engines = at::globalContext().supportedQEngines();
  return std::find(engines.begin(), engines.end(), at::kONEDNN) != engines.end();
}

QuantizedConv quantize_conv(const Conv& conv) {
  select_engine();
  const at::Tensor w = conv.weight.to(at::kCPU, at::kFloat).contiguous();
  const int64_t outputs = w.size(0);
  const at::Tensor scales = (w.abs().amax({1, 2, 3}) / 127).clamp_min(1e-12).to(at::kDouble);
  const at::Tensor qw = at::quantize_per_channel(w, scales, at::zeros({outputs}, at::kLong), 0, at::kQInt8);
  std::vector<c10::IValue> stack{qw,
                                 c10::optional<at::Tensor>(conv.bias.to(at::kCPU, at::kFloat).contiguous()),
                                 std::vector<int64_t>{conv.stride, conv.stride},
                                 std::vector<int64_t>{conv.padding, conv.padding},
                                 std::vector<int64_t>{1, 1},
                                 int64_t{1}};
  op("quantized::conv2d_prepack", "").callBoxed(&stack);
  return {stack.at(0)};
}

at::Tensor QuantizedConv::operator()(const at::Tensor& qx, double scale, int64_t zero_point, bool relu) const {
  static const c10::OperatorHandle plain = op("quantized::conv2d", "new");
  static const c10::OperatorHandle with_relu = op("quantized::conv2d_relu", "new");
  std::vector<c10::IValue> stack{qx, packed, scale, zero_point};
  (relu ? with_relu : plain).callBoxed(&stack);
  return stack.at(0).toTensor();
}

double calibrated_range(const at::Tensor& x) {
  return std::max(x.abs().max().item<double>(), 1e-6) * kHeadroom;
}

QuantizedResBlock::QuantizedResBlock(ResBlock block) : block_(std::move(block)) {
  if (block_.channel_conv) throw Error("int8 ResBlock: blocks that change the channel count stay in bf16");
  scale1_ = block_.scale1.to(at::kFloat).contiguous();
  shift1_ = block_.shift1.to(at::kFloat).contiguous();
  conv1_ = quantize_conv(block_.conv1);
  conv2_ = quantize_conv(block_.conv2);
}

at::Tensor QuantizedResBlock::operator()(const at::Tensor& x) {
  if (!calibrated_) {
    const at::Tensor a = at::addcmul(block_.shift1, x, block_.scale1).relu_();
    const at::Tensor h = block_.conv1(a).relu_();
    const at::Tensor o = block_.conv2(h);
    input_scale_ = calibrated_range(a) / 255;
    hidden_scale_ = calibrated_range(h) / 255;
    output_scale_ = calibrated_range(o) / 127;
    calibrated_ = true;
    return o.add_(x);
  }
  const at::Tensor qa = quantize(x, scale1_, shift1_, input_scale_);
  const at::Tensor qh = conv1_(qa, hidden_scale_, 0, /*relu=*/true);
  const at::Tensor qo = conv2_(qh, output_scale_, 128, /*relu=*/false);
  return dequantize(qo, x, x.scalar_type());
}

QuantizedConvReluChain::QuantizedConvReluChain(std::vector<ConvRelu> layers) : layers_(std::move(layers)) {
  for (const ConvRelu& layer : layers_) quantized_.push_back(quantize_conv(layer.conv));
}

at::Tensor QuantizedConvReluChain::operator()(const at::Tensor& x) {
  if (!calibrated_) {
    scales_ = {calibrated_range(x) / 255};
    at::Tensor y = x;
    for (const ConvRelu& layer : layers_) {
      y = layer(y);
      scales_.push_back(calibrated_range(y) / 255);
    }
    calibrated_ = true;
    return y;
  }
  at::Tensor q = quantize(x, {}, {}, scales_[0]);
  for (size_t i = 0; i < quantized_.size(); ++i) q = quantized_[i](q, scales_[i + 1], 0, /*relu=*/true);
  return dequantize(q, {}, x.scalar_type());
}

}  // namespace dinet::infer
