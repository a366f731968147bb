// The generator's small parameter path, rebuilt for speed from a trained DINet's weights:
// the audio encoder (1-D convolutions over a 5-frame window) and AdaAT's warp of the
// reference features. Both run in float32; both are the published functions within float
// rounding (tests compare the whole generator with DINet::forward). The audio encoder runs
// on the CPU (a few hundred kFLOP a frame); the warp on the reference features' device.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <vector>

namespace dinet::infer {

// A Conv1d (BatchNorm folded in) as one matrix product over the unfolded window: LibTorch's
// own conv1d on a (B, 128, 5) input costs ~30 ms a call here, the product a fraction of one.
struct Conv1dAsLinear {
  at::Tensor weight;  // (out, in * kernel), input-channel major
  at::Tensor bias;
  int64_t kernel = 1, stride = 1, padding = 0;
  at::Tensor operator()(const at::Tensor& x) const;  // (B, in, L) -> (B, out, L')
};

// `audio_encoder` of the published generator: Same1d, Res1d, Down1d, Res1d, Down1d, Same1d.
class AudioEncoder {
 public:
  explicit AudioEncoder(torch::nn::Module& net);
  // (B, channels, 5) -> the pooled audio code (B, 128).
  at::Tensor operator()(const at::Tensor& audio) const;

 private:
  struct Layer {
    bool residual = false;
    Conv1dAsLinear conv1, conv2;  // conv2 only for residual blocks
    at::Tensor scale1, shift1;    // the pre-activation norm of residual blocks
  };
  std::vector<Layer> layers_;
};

// AdaAT: per channel k, a rotation, scale and shift of the reference features, sampled
// trilinearly at depth z_k as published. z_k is the same for every frame, so the sample
// separates into fixed weights over two neighbouring channels and a bilinear 2-D warp; the
// weighted pair is one plane per channel, mixed once per video. On the CPU the warp is one
// pass over the output (ATen's grid sampler and the grids it needs took 2.5 times as long
// at mouth 256); elsewhere it is ATen's 2-D grid sampler.
class AdaptiveWarp {
 public:
  explicit AdaptiveWarp(torch::nn::Module& net);
  // The reference appearance features (1, D, h, w), float32: once per video.
  void set_reference(const at::Tensor& appearance);
  // The parameter code (B, 256) -> warped features (B, D, h, w), float32.
  at::Tensor operator()(const at::Tensor& code) const;
  // The same with ATen's grid sampler, the path off the CPU (public so that the CPU's tests
  // cover it too).
  at::Tensor with_grid_sampler(const at::Tensor& code) const;

 private:
  struct Transform {
    at::Tensor scale, cos, sin;  // (B, D)
    at::Tensor shift;            // (B, D, 2)
  };
  Transform transform(const at::Tensor& code) const;
  at::Tensor warp_on_cpu(const Transform& transform) const;

  at::Tensor common_w_, common_b_, scale_w_, scale_b_, rotation_w_, rotation_b_, shift_w_, shift_b_;
  at::Tensor planes_;  // (D, h, w): channel k's two neighbours at depth z_k, weighted
};

}  // namespace dinet::infer
