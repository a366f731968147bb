#include "infer/int8_ops.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/record_function.h>

#include <algorithm>

#include "dinet/error.h"
#include "infer/int8_kernels.h"

namespace dinet::infer {
namespace {

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

// The loops walk channels-last memory: rows of pixels, each `channels` values long.
void require_channels_last(const at::Tensor& x, const char* what) {
  if (x.dim() != 4 || !x.is_contiguous(at::MemoryFormat::ChannelsLast) || !x.device().is_cpu())
    throw Error(std::string("int8 ") + what + ": expected a channels-last CPU tensor");
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

at::Tensor quantize(const at::Tensor& x, const Quantization& to, const at::Tensor& scale, const at::Tensor& shift) {
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

at::Tensor dequantize(const at::Tensor& q, const at::Tensor& addend, at::ScalarType dtype) {
  RECORD_FUNCTION("dinet::dequantize", std::vector<c10::IValue>{});
  require_channels_last(q, "dequantize");
  if (addend.defined()) require_channels_last(addend, "dequantize");
  at::Tensor y = at::empty(q.sizes(), at::device(at::kCPU).dtype(dtype).memory_format(at::MemoryFormat::ChannelsLast));
  const auto* in = reinterpret_cast<const uint8_t*>(q.data_ptr());
  const auto scale = static_cast<float>(q.q_scale());
  const auto zero = static_cast<int>(q.q_zero_point());
  if (dtype == at::kBFloat16)
    dequantize_values(in, scale, zero, addend.defined() ? addend.data_ptr<at::BFloat16>() : nullptr,
                      y.data_ptr<at::BFloat16>(), y.numel());
  else
    dequantize_values(in, scale, zero, addend.defined() ? addend.data_ptr<float>() : nullptr, y.data_ptr<float>(),
                      y.numel());
  return y;
}

at::Tensor dequantize_phases(const at::Tensor& q, int64_t height, int64_t width, at::ScalarType dtype) {
  RECORD_FUNCTION("dinet::dequantize", std::vector<c10::IValue>{});
  require_channels_last(q, "dequantize");
  const int64_t batch = q.size(0), channels = q.size(1) / 4;
  at::Tensor y = at::empty({batch, 4 * channels, height, width},
                           at::device(at::kCPU).dtype(dtype).memory_format(at::MemoryFormat::ChannelsLast));
  const auto* in = reinterpret_cast<const uint8_t*>(q.data_ptr());
  const auto scale = static_cast<float>(q.q_scale());
  const auto zero = static_cast<int>(q.q_zero_point());
  if (dtype == at::kBFloat16)
    infer::dequantize_phases(in, scale, zero, y.data_ptr<at::BFloat16>(), batch, height, width, channels);
  else
    infer::dequantize_phases(in, scale, zero, y.data_ptr<float>(), batch, height, width, channels);
  return y;
}

}  // namespace dinet::infer
