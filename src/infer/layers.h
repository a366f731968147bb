// Inference-only layers built from a trained DINet's weights: BatchNorm (eval statistics)
// folded into the convolution it follows, so every block is one convolution and a ReLU.
// Same functions as the published blocks within float rounding; tests compare them.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <optional>
#include <string>
#include <utility>

namespace dinet::infer {

// Where the weights go and in which type. Convolution weights are kept channels-last: the
// layout oneDNN's CPU convolutions run fastest in.
struct LayerTarget {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
};

// Whether `net` has a submodule of this state-dict name ("trans_conv.3").
bool has_module(torch::nn::Module& net, const std::string& name);
// A parameter or buffer of `net` by its state-dict name, float32 on the CPU.
at::Tensor parameter(torch::nn::Module& net, const std::string& name);
// The eval-mode BatchNorm `name` as y = x * scale + shift per channel (float32, CPU), read by
// its state-dict names whatever module class holds them.
std::pair<at::Tensor, at::Tensor> batch_norm_affine(torch::nn::Module& net, const std::string& name);

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
  at::Tensor operator()(const at::Tensor& x) const;  // (B, in, h, w) -> (B, out, 2h, 2w)
  // The same output in space-to-depth form, phase-major: (B, 4 * out, h, w) with channel
  // (2a + b) out + c holding output pixels (2i + a, 2j + b) of channel c.
  at::Tensor space_to_depth(const at::Tensor& x) const;
};
UpBlock up_block(torch::nn::Module& net, const std::string& prefix, const LayerTarget& target);

// A stride-1 convolution with few outputs at full resolution (the generator's last, 128 -> 3,
// 7x7): oneDNN pads the outputs to its vector width, so most of that work would be wasted.
// On the space-to-depth input (UpBlock::space_to_depth: 4x the channels at half the size)
// the same function is a convolution with 4x the outputs (one per channel and output phase)
// and a kernel of about half the size, followed by depth-to-space.
struct SpaceToDepthConv {
  Conv conv;
  at::Tensor operator()(const at::Tensor& phase_major) const;  // -> (B, out, 2h, 2w)
};
// `conv` in float32 on the CPU, stride 1, padding (kernel - 1) / 2.
SpaceToDepthConv space_to_depth_conv(const Conv& conv, const LayerTarget& target);

// A channels-last copy (the layout every layer above expects and returns).
at::Tensor channels_last(const at::Tensor& x);

}  // namespace dinet::infer
