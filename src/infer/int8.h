// int8 convolutions for CPU inference (`--precision int8`). oneDNN's quantized convolutions
// (uint8 activations x int8 weights, 32-bit sums) run at twice the bf16 rate on CPUs with
// VNNI dot products, and the generator at mouth 256 is bound by convolution arithmetic.
// Weights are quantized per output channel from their own range. Activations are quantized
// per tensor over the range they took in the calls that ran in the carrier precision while
// recording it: each video's first batch, and then one now and then (Generator), so that the
// ranges widen to what later frames reach. Only the
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

// The values an activation took in the calls that ran in the carrier precision.
class Range {
 public:
  void include(const at::Tensor& x);
  // Over 256 levels with headroom for later frames; a non-negative range (a ReLU's output)
  // gets zero point 0.
  Quantization quantization() const;

 private:
  double low_ = 0, high_ = 0;
};

// A convolution with prepacked int8 weights and a float32 bias; uint8 in, uint8 out.
struct QuantizedConv {
  c10::IValue packed;
  // `qx`: quint8, channels-last. The output is stored as `output` says, ReLU'd when `relu`.
  at::Tensor operator()(const at::Tensor& qx, const Quantization& output, bool relu) const;
};
QuantizedConv quantize_conv(const Conv& conv);

// The pre-activation ResBlock (infer/layers.h) with both convolutions in int8:
// relu(x * scale1 + shift1) is quantized in one pass, conv1 (+ReLU) feeds conv2 in uint8,
// and conv2's output is dequantized into the sum with the input.
class QuantizedResBlock {
 public:
  explicit QuantizedResBlock(ResBlock block);
  at::Tensor operator()(const at::Tensor& x);  // x: carrier dtype, channels-last
  // The next call runs the carrier-precision block and widens the ranges to what it sees.
  void record_next() { record_ = true; }
  // A new video: the ranges start again from the next call.
  void reset() {
    input_ = hidden_ = output_ = Range{};
    record_ = true;
  }

 private:
  ResBlock block_;
  at::Tensor scale1_, shift1_;  // float32
  QuantizedConv conv1_, conv2_;
  bool record_ = true;
  Range input_, hidden_, output_;
};

// Consecutive conv -> ReLU layers in int8: the input (of either sign) is quantized once, the
// layers run on uint8, the last output is dequantized to the input's dtype.
class QuantizedConvReluChain {
 public:
  explicit QuantizedConvReluChain(std::vector<ConvRelu> layers);
  at::Tensor operator()(const at::Tensor& x);
  void record_next() { record_ = true; }  // as QuantizedResBlock's
  void reset() {
    ranges_.assign(ranges_.size(), Range{});
    record_ = true;
  }

 private:
  std::vector<ConvRelu> layers_;
  std::vector<QuantizedConv> quantized_;
  bool record_ = true;
  std::vector<Range> ranges_;  // the input's, then each layer's output's
};

// UpBlock::space_to_depth in int8: the input (of either sign) quantized, the 2x2 phase
// convolution (+ReLU) in int8, its four phases dequantized straight into the space-to-depth
// layout the last convolution reads.
class QuantizedUpBlock {
 public:
  explicit QuantizedUpBlock(UpBlock block);
  at::Tensor space_to_depth(const at::Tensor& x);
  void record_next() { record_ = true; }  // as QuantizedResBlock's
  void reset() {
    input_ = output_ = Range{};
    record_ = true;
  }

 private:
  UpBlock block_;
  QuantizedConv phases_;
  bool record_ = true;
  Range input_, output_;
};

}  // namespace dinet::infer
