#include "model/blocks.h"

#include <torch/nn/functional/upsampling.h>

namespace dinet::blocks {
namespace {

template <size_t D>
typename Layers<D>::Conv make_conv(int64_t in, int64_t out, int64_t kernel, int64_t padding,
                                   int64_t stride = 1) {
  return typename Layers<D>::Conv(
      torch::nn::ConvOptions<D>(in, out, kernel).padding(padding).stride(stride));
}

}  // namespace

NormImpl::NormImpl(int64_t features, double eps, double momentum) : eps(eps), momentum(momentum) {
  weight = register_parameter("weight", torch::ones({features}));
  bias = register_parameter("bias", torch::zeros({features}));
  running_mean = register_buffer("running_mean", torch::zeros({features}));
  running_var = register_buffer("running_var", torch::ones({features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

at::Tensor NormImpl::forward(const at::Tensor& x) {
  if (is_training()) {
    if (train_forward) return train_forward(*this, x);
    num_batches_tracked += 1;
  }
  return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps,
                           at::globalContext().userEnabledCuDNN());
}

template <size_t D>
SameBlockImpl<D>::SameBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding)
    : conv_(register_module("conv", make_conv<D>(in, out, kernel, padding))),
      norm_(register_module("norm", Norm(out))) {}

template <size_t D>
at::Tensor SameBlockImpl<D>::forward(const at::Tensor& x) {
  return torch::relu(norm_(conv_(x)));
}

template <size_t D>
DownBlockImpl<D>::DownBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding)
    : conv_(register_module("conv", make_conv<D>(in, out, kernel, padding, 2))),
      norm_(register_module("norm", Norm(out))) {}

template <size_t D>
at::Tensor DownBlockImpl<D>::forward(const at::Tensor& x) {
  return torch::relu(norm_(conv_(x)));
}

template <size_t D>
ResBlockImpl<D>::ResBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding) {
  conv1_ = register_module("conv1", make_conv<D>(in, in, kernel, padding));
  conv2_ = register_module("conv2", make_conv<D>(in, out, kernel, padding));
  if (in != out) channel_conv_ = register_module("channel_conv", make_conv<D>(in, out, 1, 0));
  norm1_ = register_module("norm1", Norm(in));
  norm2_ = register_module("norm2", Norm(in));
}

template <size_t D>
at::Tensor ResBlockImpl<D>::forward(const at::Tensor& x) {
  const at::Tensor out = conv2_(torch::relu(norm2_(conv1_(torch::relu(norm1_(x))))));
  return out + (channel_conv_ ? channel_conv_(x) : x);
}

template class SameBlockImpl<1>;
template class SameBlockImpl<2>;
template class DownBlockImpl<1>;
template class DownBlockImpl<2>;
template class ResBlockImpl<1>;
template class ResBlockImpl<2>;

UpBlock2dImpl::UpBlock2dImpl(int64_t in, int64_t out)
    : conv_(register_module("conv", make_conv<2>(in, out, 3, 1))),
      norm_(register_module("norm", Norm(out))) {}

at::Tensor UpBlock2dImpl::forward(const at::Tensor& x) {
  namespace F = torch::nn::functional;
  const at::Tensor up = F::interpolate(
      x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2, 2}).mode(torch::kNearest));
  return torch::relu(norm_(conv_(up)));
}

}  // namespace dinet::blocks
