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

// The first batch's extremes may be exceeded by later frames (a wider mouth, other light);
// values beyond the range saturate. Resolution mattered more than saturation on the clips
// measured (docs/PERFORMANCE.md): fp32 -> int8 PSNR 48.2 / 47.4 / 46.4 / 44.8 dB with 1, 1.25,
// 1.5 and 2x headroom.
constexpr double kHeadroom = 1.25;

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

// The loops below walk channels-last memory: rows of pixels, each `channels` values long.
void require_channels_last(const at::Tensor& x, const char* what) {
  if (x.dim() != 4 || !x.is_contiguous(at::MemoryFormat::ChannelsLast) || !x.device().is_cpu())
    throw Error(std::string("int8 ") + what + ": expected a channels-last CPU tensor");
}

// A quantize pass: q = round(clamp(f(x) / q_scale + zero_point, low, 255)) with
// f(x) = x * channel_scale[c] + channel_shift[c] (or x when there are none) and low =
// zero_point after a ReLU (negative values become zero), 0 otherwise.
struct QuantizeParams {
  const float* channel_scale = nullptr;
  const float* channel_shift = nullptr;
  float inverse = 1, zero_point = 0, low = 0;
};

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

bool has_avx512(bool bf16) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bw") && (!bf16 || __builtin_cpu_supports("avx512bf16"));
}
#endif

template <typename T>
void quantize_rows(const T* x, const QuantizeParams& p, uint8_t* q, int64_t rows, int64_t channels) {
  auto row = &quantize_row<T>;
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_avx512(false)) row = &quantize_row_avx512<T>;
#endif
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) row(x + r * channels, p, 0, q + r * channels, channels);
  });
}

template <typename T>
auto dequantize_row_function() {
  auto row = &dequantize_row<T>;
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_avx512(std::is_same_v<T, at::BFloat16>)) row = &dequantize_row_avx512<T>;
#endif
  return row;
}

template <typename T>
void dequantize_into(const uint8_t* q, float q_scale, int zero_point, const T* addend, T* y, int64_t n) {
  const auto run = dequantize_row_function<T>();
  constexpr int64_t kChunk = 1 << 14;
  at::parallel_for(0, (n + kChunk - 1) / kChunk, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t i = k * kChunk, count = std::min(kChunk, n - i);
      run(q + i, q_scale, zero_point, addend ? addend + i : nullptr, y + i, count);
    }
  });
}

// x (float32 or bf16, channels-last) as a new quint8 tensor with `to`'s scale and zero point;
// with `scale` and `shift` per channel, relu(x * scale + shift) instead.
at::Tensor quantize(const at::Tensor& x, const Quantization& to, const at::Tensor& scale = {},
                    const at::Tensor& shift = {}) {
  RECORD_FUNCTION("dinet::quantize", std::vector<c10::IValue>{});  // a row of `dinet-bench infer-profile`
  require_channels_last(x, "quantize");
  at::Tensor q = at::_empty_affine_quantized(x.sizes(), at::device(at::kCPU).dtype(at::kQUInt8), to.scale,
                                             to.zero_point, at::MemoryFormat::ChannelsLast);
  QuantizeParams p;
  p.channel_scale = scale.defined() ? scale.data_ptr<float>() : nullptr;
  p.channel_shift = shift.defined() ? shift.data_ptr<float>() : nullptr;
  p.inverse = static_cast<float>(1 / to.scale);
  p.zero_point = static_cast<float>(to.zero_point);
  p.low = scale.defined() ? p.zero_point : 0;  // the ReLU
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  auto* out = reinterpret_cast<uint8_t*>(q.data_ptr());
  if (x.scalar_type() == at::kBFloat16)
    quantize_rows(x.data_ptr<at::BFloat16>(), p, out, rows, channels);
  else if (x.scalar_type() == at::kFloat)
    quantize_rows(x.data_ptr<float>(), p, out, rows, channels);
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

// The padded phase convolution's output (B, 4C, h + 1, w + 1), quint8, as UpBlock::space_to_depth
// lays it out: (B, 4C, h, w) channels-last with phase (a, b) of pixel (i, j) read at (i + a, j + b).
at::Tensor dequantize_phases(const at::Tensor& q, int64_t height, int64_t width, at::ScalarType dtype) {
  RECORD_FUNCTION("dinet::dequantize", std::vector<c10::IValue>{});
  require_channels_last(q, "dequantize");
  const int64_t batch = q.size(0), channels = q.size(1) / 4;
  at::Tensor y = at::empty({batch, 4 * channels, height, width},
                           at::device(at::kCPU).dtype(dtype).memory_format(at::MemoryFormat::ChannelsLast));
  const auto* in = reinterpret_cast<const uint8_t*>(q.data_ptr());
  const auto scale = static_cast<float>(q.q_scale());
  const auto zero = static_cast<int>(q.q_zero_point());
  const auto run = [&](auto* out) {
    using T = std::remove_pointer_t<decltype(out)>;
    const auto row = dequantize_row_function<T>();
    at::parallel_for(0, batch * height, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t n = r / height, i = r % height;
        for (int64_t j = 0; j < width; ++j)
          for (int64_t phase = 0; phase < 4; ++phase) {
            const int64_t a = phase / 2, b = phase % 2;
            const uint8_t* from = in + (((n * (height + 1) + i + a) * (width + 1) + j + b) * 4 + phase) * channels;
            row(from, scale, zero, nullptr, out + ((r * width + j) * 4 + phase) * channels, channels);
          }
      }
    });
  };
  if (dtype == at::kBFloat16)
    run(y.data_ptr<at::BFloat16>());
  else
    run(y.data_ptr<float>());
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

at::Tensor QuantizedConv::operator()(const at::Tensor& qx, const Quantization& output, bool relu) const {
  static const c10::OperatorHandle plain = op("quantized::conv2d", "new");
  static const c10::OperatorHandle with_relu = op("quantized::conv2d_relu", "new");
  std::vector<c10::IValue> stack{qx, packed, output.scale, output.zero_point};
  (relu ? with_relu : plain).callBoxed(&stack);
  return stack.at(0).toTensor();
}

void Range::include(const at::Tensor& x) {
  low_ = std::min(low_, x.min().item<double>());
  high_ = std::max(high_, x.max().item<double>());
}

Quantization Range::quantization() const {
  const double scale = std::max(high_ - low_, 1e-6) * kHeadroom / 255;
  return {scale, std::clamp<int64_t>(std::llround(-low_ * kHeadroom / scale), 0, 255)};
}

QuantizedResBlock::QuantizedResBlock(ResBlock block) : block_(std::move(block)) {
  if (block_.channel_conv) throw Error("int8 ResBlock: blocks that change the channel count stay in bf16");
  scale1_ = block_.scale1.to(at::kFloat).contiguous();
  shift1_ = block_.shift1.to(at::kFloat).contiguous();
  conv1_ = quantize_conv(block_.conv1);
  conv2_ = quantize_conv(block_.conv2);
}

at::Tensor QuantizedResBlock::operator()(const at::Tensor& x) {
  if (record_) {
    const at::Tensor a = at::addcmul(block_.shift1, x, block_.scale1).relu_();
    const at::Tensor h = block_.conv1(a).relu_();
    const at::Tensor o = block_.conv2(h);
    input_.include(a);
    hidden_.include(h);
    output_.include(o);
    record_ = false;
    return o.add_(x);
  }
  const at::Tensor qa = quantize(x, input_.quantization(), scale1_, shift1_);
  const at::Tensor qh = conv1_(qa, hidden_.quantization(), /*relu=*/true);
  const at::Tensor qo = conv2_(qh, output_.quantization(), /*relu=*/false);
  return dequantize(qo, x, x.scalar_type());
}

QuantizedConvReluChain::QuantizedConvReluChain(std::vector<ConvRelu> layers)
    : layers_(std::move(layers)), ranges_(layers_.size() + 1) {
  for (const ConvRelu& layer : layers_) quantized_.push_back(quantize_conv(layer.conv));
}

at::Tensor QuantizedConvReluChain::operator()(const at::Tensor& x) {
  if (record_) {
    ranges_[0].include(x);
    at::Tensor y = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
      y = layers_[i](y);
      ranges_[i + 1].include(y);
    }
    record_ = false;
    return y;
  }
  at::Tensor q = quantize(x, ranges_[0].quantization());
  for (size_t i = 0; i < quantized_.size(); ++i) q = quantized_[i](q, ranges_[i + 1].quantization(), /*relu=*/true);
  return dequantize(q, {}, x.scalar_type());
}

QuantizedUpBlock::QuantizedUpBlock(UpBlock block) : block_(std::move(block)), phases_(quantize_conv(block_.phases)) {}

at::Tensor QuantizedUpBlock::space_to_depth(const at::Tensor& x) {
  if (record_) {
    at::Tensor y = block_.space_to_depth(x);
    input_.include(x);
    output_.include(y);  // the phases' values that are kept
    record_ = false;
    return y;
  }
  const at::Tensor q = phases_(quantize(x, input_.quantization()), output_.quantization(), /*relu=*/true);
  return dequantize_phases(q, x.size(2), x.size(3), x.scalar_type());
}

}  // namespace dinet::infer
