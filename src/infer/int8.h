// int8 convolutions for CPU inference (`--precision int8`). oneDNN's quantized convolutions
// (uint8 activations x int8 weights, 32-bit sums) run at twice the bf16 rate on CPUs with
// VNNI dot products, and the generator at mouth 256 is bound by convolution arithmetic.
// Weights are quantized per output channel from their own range. Activations are quantized
// per tensor with scales fixed per video from its first batch, which runs in the carrier
// precision while the ranges are recorded (with headroom for later frames). Only the
// convolutions whose saving outweighs converting the activations in and out run in int8
// (infer/generator.h lists them).
#pragma once

#include <ATen/Tensor.h>
#include <ATen/core/ivalue.h>

#include <vector>

#include "infer/layers.h"

namespace dinet::infer {

// Whether this LibTorch has oneDNN's quantized engine (selected by the first QuantizedConv).
bool int8_available();

// How an activation is stored in uint8: value = (q - zero_point) * scale.
struct Quantization {
  double scale = 1;
  int64_t zero_point = 0;
};
// The range of a tensor seen in the first batch, with headroom, over 256 levels; a
// non-negative tensor (a ReLU's output) gets zero point 0.
Quantization calibrate(const at::Tensor& x);

// A convolution with prepacked int8 weights and a float32 bias; uint8 in, uint8 out.
struct QuantizedConv {
  c10::IValue packed;
  // `qx`: quint8, channels-last. The output is stored as `output` says, ReLU'd when `relu`.
  at::Tensor operator()(const at::Tensor& qx, const Quantization& output, bool relu) const;
};
QuantizedConv quantize_conv(const Conv& conv);

// The pre-activation ResBlock (infer/layers.h) with both convolutions in int8:
// relu(x * scale1 + shift1) is quantized in one pass, conv1 (+ReLU) feeds conv2 in uint8,
// and conv2's output is dequantized into the sum with the input. The first call after
// `reset` runs the carrier-precision block and records the three ranges.
class QuantizedResBlock {
 public:
  explicit QuantizedResBlock(ResBlock block);
  at::Tensor operator()(const at::Tensor& x);  // x: carrier dtype, channels-last
  void reset() { calibrated_ = false; }

 private:
  ResBlock block_;
  at::Tensor scale1_, shift1_;  // float32
  QuantizedConv conv1_, conv2_;
  bool calibrated_ = false;
  Quantization input_, hidden_, output_;
};

// Consecutive conv -> ReLU layers in int8: the input (of either sign) is quantized once, the
// layers run on uint8, the last output is dequantized to the input's dtype.
class QuantizedConvReluChain {
 public:
  explicit QuantizedConvReluChain(std::vector<ConvRelu> layers);
  at::Tensor operator()(const at::Tensor& x);
  void reset() { calibrated_ = false; }

 private:
  std::vector<ConvRelu> layers_;
  std::vector<QuantizedConv> quantized_;
  bool calibrated_ = false;
  std::vector<Quantization> ranges_;  // the input's, then each layer's output's
};

// UpBlock::space_to_depth in int8: the input (of either sign) quantized, the 2x2 phase
// convolution (+ReLU) in int8, its four phases dequantized straight into the space-to-depth
// layout the last convolution reads.
class QuantizedUpBlock {
 public:
  explicit QuantizedUpBlock(UpBlock block);
  at::Tensor space_to_depth(const at::Tensor& x);
  void reset() { calibrated_ = false; }

 private:
  UpBlock block_;
  QuantizedConv phases_;
  bool calibrated_ = false;
  Quantization input_, output_;
};

}  // namespace dinet::infer
