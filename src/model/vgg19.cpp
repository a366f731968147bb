// VGG19 perceptual features (reference section 3.4), in torchvision's `features` layout.
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

#include <array>

#include "dinet/networks.h"

namespace dinet {
namespace {

// torchvision's configuration "E" as far as relu5_1: output channels of each 3x3 conv
// (each followed by a ReLU), 0 for a 2x2 max-pool. That is layers 0..29, pools at 4, 9, 18, 27.
constexpr std::array<int64_t, 17> kLayout = {64,  64,  0,   128, 128, 0,   256, 256, 256,
                                             256, 0,   512, 512, 512, 512, 0,   512};
// The last layer of each slice: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
constexpr std::array<size_t, 5> kSliceEnds = {1, 6, 11, 20, 29};

}  // namespace

VGG19Impl::VGG19Impl() {
  std::vector<torch::nn::AnyModule> layers;
  int64_t channels = 3;
  for (int64_t out : kLayout) {
    if (out == 0) {
      layers.emplace_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    layers.emplace_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, out, 3).padding(1)));
    layers.emplace_back(torch::nn::ReLU());
    channels = out;
  }
  features_ = register_module("features", torch::nn::Sequential());
  size_t first = 0;
  for (size_t end : kSliceEnds) {
    torch::nn::Sequential slice;
    for (size_t i = first; i <= end; ++i) {
      features_->push_back(layers[i]);
      slice->push_back(layers[i]);  // a copy of an AnyModule shares the module
    }
    slices_.push_back(slice);
    first = end + 1;
  }
}

std::vector<at::Tensor> VGG19Impl::forward(const at::Tensor& rgb) {
  const auto options = rgb.options();
  const at::Tensor mean = torch::tensor({0.485, 0.456, 0.406}, options).view({1, 3, 1, 1});
  const at::Tensor std = torch::tensor({0.229, 0.224, 0.225}, options).view({1, 3, 1, 1});
  at::Tensor x = (rgb - mean) / std;
  std::vector<at::Tensor> outputs;
  for (auto& slice : slices_) outputs.push_back(x = slice->forward(x));
  return outputs;
}

}  // namespace dinet
