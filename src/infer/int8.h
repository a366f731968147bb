// int8 layers for CPU inference (`--precision int8`), made of the operations in
// infer/int8_ops.h. The generator at mouth 256 is bound by convolution arithmetic, and
// oneDNN's int8 convolutions run at twice the bf16 rate with VNNI. Activations are quantized
// per tensor over the range they took in the calls that ran in the carrier precision while
// recording it: each video's first batch, and then one now and then (infer/generator.cpp), so
// that the ranges widen to what later frames reach. Only the convolutions whose saving
// outweighs converting the activations in and out run in int8 (infer/generator.h lists them).
#pragma once

#include <ATen/Tensor.h>

#include <vector>

#include "infer/int8_ops.h"
#include "infer/layers.h"

namespace dinet::infer {

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

// What every int8 layer shares: the ranges of its activations and when to record them.
class RecordedRanges {
 public:
  explicit RecordedRanges(size_t count) : ranges_(count) {}
  // The next call runs the carrier-precision layer and widens the ranges to what it sees.
  void record_next() { record_ = true; }
  // A new video: the ranges start again from the next call.
  void reset() {
    ranges_.assign(ranges_.size(), Range{});
    record_ = true;
  }

 protected:
  bool record_ = true;
  std::vector<Range> ranges_;
};

// The pre-activation ResBlock (infer/layers.h) with both convolutions in int8:
// relu(x * scale1 + shift1) is quantized in one pass, conv1 (+ReLU) feeds conv2 in uint8,
// and conv2's output is dequantized into the sum with the input.
class QuantizedResBlock : public RecordedRanges {
 public:
  explicit QuantizedResBlock(ResBlock block);
  at::Tensor operator()(const at::Tensor& x);  // x: carrier dtype, channels-last

 private:
  ResBlock block_;
  at::Tensor scale1_, shift1_;  // float32
  QuantizedConv conv1_, conv2_;
  // ranges_: the activated input, the hidden layer, the output before the sum
};

// Consecutive conv -> ReLU layers in int8: the input (of either sign) is quantized once, the
// layers run on uint8, the last output is dequantized to the input's dtype.
class QuantizedConvReluChain : public RecordedRanges {
 public:
  explicit QuantizedConvReluChain(std::vector<ConvRelu> layers);
  at::Tensor operator()(const at::Tensor& x);

 private:
  std::vector<ConvRelu> layers_;
  std::vector<QuantizedConv> quantized_;
  // ranges_: the input's, then each layer's output's
};

// UpBlock::space_to_depth in int8: the input (of either sign) quantized, the 2x2 phase
// convolution (+ReLU) in int8, its four phases dequantized straight into the space-to-depth
// layout the last convolution reads.
class QuantizedUpBlock : public RecordedRanges {
 public:
  explicit QuantizedUpBlock(UpBlock block);
  at::Tensor space_to_depth(const at::Tensor& x);

 private:
  UpBlock block_;
  QuantizedConv phases_;
  // ranges_: the input, the phases' output
};

}  // namespace dinet::infer
