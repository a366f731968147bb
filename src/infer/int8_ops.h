// The int8 operations the int8 layers (infer/int8.h) are made of: oneDNN's quantized
// convolution through LibTorch's dispatcher (uint8 activations x int8 weights, 32-bit sums;
// twice the bf16 rate on CPUs with VNNI), and conversions of channels-last activations to and
// from uint8 (the loops in infer/int8_kernels.h).
#pragma once

#include <ATen/Tensor.h>
#include <ATen/core/ivalue.h>

#include "infer/layers.h"

namespace dinet::infer {

// Whether this LibTorch has oneDNN's quantized engine (selected by the first quantize_conv).
bool int8_available();

// How an activation is stored in uint8: value = (q - zero_point) * scale.
struct Quantization {
  double scale = 1;
  int64_t zero_point = 0;
};

// A convolution with prepacked int8 weights (per output channel, from their own range) and a
// float32 bias; uint8 in, uint8 out.
struct QuantizedConv {
  c10::IValue packed;
  // `qx`: quint8, channels-last. The output is stored as `output` says, ReLU'd when `relu`.
  at::Tensor operator()(const at::Tensor& qx, const Quantization& output, bool relu) const;
};
QuantizedConv quantize_conv(const Conv& conv);

// x (float32 or bf16, channels-last) as a new quint8 tensor with `to`'s scale and zero point;
// with `scale` and `shift` per channel (float32), relu(x * scale + shift) instead.
at::Tensor quantize(const at::Tensor& x, const Quantization& to, const at::Tensor& scale = {},
                    const at::Tensor& shift = {});

// dequantize(q), plus `addend` (same shape, channels-last) when defined, in the carrier `dtype`.
at::Tensor dequantize(const at::Tensor& q, const at::Tensor& addend, at::ScalarType dtype);

// The padded phase convolution's output (B, 4C, h + 1, w + 1), quint8, dequantized into the
// layout UpBlock::space_to_depth returns: (B, 4C, h, w) channels-last.
at::Tensor dequantize_phases(const at::Tensor& q, int64_t height, int64_t width, at::ScalarType dtype);

}  // namespace dinet::infer
