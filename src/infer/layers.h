// Inference-only layers built from a trained DINet's weights: BatchNorm (eval statistics)
// folded into the convolution it follows, so every block is one convolution and a ReLU.
// Same functions as the published blocks within float rounding; tests compare them.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <optional>
#include <string>

namespace dinet::infer {

// Where the weights go and in which type. Convolution weights are kept channels-last: the
// layout oneDNN's CPU convolutions run fastest in.
struct LayerTarget {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
};

struct Conv {
  at::Tensor weight, bias;
  int64_t stride = 1, padding = 0;
  at::Tensor operator()(const at::Tensor& x) const;
};

// `<prefix>.conv` followed by `<prefix>.norm` (SameBlock2d, DownBlock2d, UpBlock2d), or a
// bare Conv2d when `prefix` has no norm; stride and padding are the module's own.
Conv folded_conv(torch::nn::Module& net, const std::string& prefix, const LayerTarget& target);

// The input channels [begin, end) of a convolution; the bias stays with the first part.
Conv input_slice(const Conv& conv, int64_t begin, int64_t end, bool keep_bias);

// conv -> norm -> ReLU (SameBlock2d, DownBlock2d).
struct ConvRelu {
  Conv conv;
  at::Tensor operator()(const at::Tensor& x) const;
};

// The pre-activation ResBlock2d: norm1 -> ReLU -> conv1 -> norm2 -> ReLU -> conv2, plus the
// input. norm2 folds into conv1; norm1 precedes a ReLU and stays a per-channel affine map.
struct ResBlock {
  at::Tensor scale1, shift1;
  Conv conv1, conv2;
  std::optional<Conv> channel_conv;
  at::Tensor operator()(const at::Tensor& x) const;
};
ResBlock res_block(torch::nn::Module& net, const std::string& prefix, const LayerTarget& target);

// UpBlock2d (nearest x2 -> 3x3 conv -> norm -> ReLU) without the upsampled image: each of the
// four output phases sees the low-resolution input through a 2x2 kernel (sums of the 3x3
// taps), so one 2x2 convolution with 4x the outputs replaces the 3x3 one at 4x the pixels:
// 16 instead of 36 products per low-resolution pixel and channel pair.
struct UpBlock {
  Conv phases;  // (4 * out, in, 2, 2): phase (a, b) at channels [(2a + b) out, (2a + b + 1) out)
  at::Tensor operator()(const at::Tensor& x) const;
};
UpBlock up_block(torch::nn::Module& net, const std::string& prefix, const LayerTarget& target);

// A channels-last copy (the layout every layer above expects and returns).
at::Tensor channels_last(const at::Tensor& x);

}  // namespace dinet::infer
