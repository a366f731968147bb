// The generator's building blocks (reference section 3): convolution + BatchNorm + ReLU in
// the published order, in 1-D (audio) and 2-D (images). Children are registered in the
// published order (convolutions before norms) so state dicts list keys as PyTorch does.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace dinet::blocks {

// BatchNorm over channel dimension 1, 1-D or 2-D (affine, with running statistics: the
// published layers), with one seam: when `train_forward` is set, train-mode forwards go
// through it. Distributed training sets it to take the statistics of the batch over every
// process, as the published synchronized BatchNorm does (train/sync_batchnorm.cpp). The
// parameters and buffers are registered as torch's BatchNorm registers them, so state-dict
// keys and their order are the published ones. (A subclass of torch's BatchNorm2dImpl
// cannot link: Debian's LibTorch does not export the base's pretty_print.)
class NormImpl : public torch::nn::Module {
 public:
  explicit NormImpl(int64_t features, double eps = 1e-5, double momentum = 0.1);
  at::Tensor forward(const at::Tensor& x);

  at::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  const double eps;
  // Weight of each batch in the running statistics; re-estimating them as a plain average
  // (train/batchnorm_statistics.cpp) sets it to 1/k for the k-th batch.
  double momentum;
  std::function<at::Tensor(NormImpl&, const at::Tensor&)> train_forward;
};
TORCH_MODULE(Norm);

template <size_t D>
struct Layers;
template <>
struct Layers<1> {
  using Conv = torch::nn::Conv1d;
};
template <>
struct Layers<2> {
  using Conv = torch::nn::Conv2d;
};

// conv (stride 1) -> norm -> ReLU.
template <size_t D>
class SameBlockImpl : public torch::nn::Module {
 public:
  SameBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding);
  at::Tensor forward(const at::Tensor& x);

 private:
  typename Layers<D>::Conv conv_{nullptr};
  Norm norm_{nullptr};
};

// conv (stride 2) -> norm -> ReLU.
template <size_t D>
class DownBlockImpl : public torch::nn::Module {
 public:
  DownBlockImpl(int64_t in, int64_t out, int64_t kernel = 3, int64_t padding = 1);
  at::Tensor forward(const at::Tensor& x);

 private:
  typename Layers<D>::Conv conv_{nullptr};
  Norm norm_{nullptr};
};

// Pre-activation residual block: norm1 -> ReLU -> conv1 -> norm2 -> ReLU -> conv2, plus the
// input (through a 1x1 channel_conv when the channel count changes).
template <size_t D>
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding);
  at::Tensor forward(const at::Tensor& x);

 private:
  typename Layers<D>::Conv conv1_{nullptr}, conv2_{nullptr}, channel_conv_{nullptr};
  Norm norm1_{nullptr}, norm2_{nullptr};
};

// Nearest-neighbour x2 upsampling -> conv 3x3 -> norm -> ReLU (2-D only).
class UpBlock2dImpl : public torch::nn::Module {
 public:
  UpBlock2dImpl(int64_t in, int64_t out);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  Norm norm_{nullptr};
};

extern template class SameBlockImpl<1>;
extern template class SameBlockImpl<2>;
extern template class DownBlockImpl<1>;
extern template class DownBlockImpl<2>;
extern template class ResBlockImpl<1>;
extern template class ResBlockImpl<2>;

using SameBlock1dImpl = SameBlockImpl<1>;
using SameBlock2dImpl = SameBlockImpl<2>;
using DownBlock1dImpl = DownBlockImpl<1>;
using DownBlock2dImpl = DownBlockImpl<2>;
using ResBlock1dImpl = ResBlockImpl<1>;
using ResBlock2dImpl = ResBlockImpl<2>;

}  // namespace dinet::blocks
