// The frame / clip discriminator (reference section 3.3).
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>

#include <algorithm>

#include "dinet/networks.h"

namespace dinet {
namespace {

// conv k4 (no padding) -> LeakyReLU(0.2) [-> 2x2 average pooling].
class DownBlockImpl : public torch::nn::Module {
 public:
  DownBlockImpl(int64_t in, int64_t out, bool pool)
      : conv_(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 4)))),
        pool_(pool) {}
  at::Tensor forward(const at::Tensor& x) {
    namespace F = torch::nn::functional;
    at::Tensor out = F::leaky_relu(conv_(x), F::LeakyReLUFuncOptions().negative_slope(0.2));
    return pool_ ? F::avg_pool2d(out, F::AvgPool2dFuncOptions(2)) : out;
  }

 private:
  torch::nn::Conv2d conv_;
  bool pool_;
};

}  // namespace

DiscriminatorImpl::DiscriminatorImpl(int64_t in_channels, int64_t block_expansion,
                                     int64_t num_blocks, int64_t max_features)
    : in_channels_(in_channels) {
  down_blocks_ = register_module("down_blocks", torch::nn::ModuleList());
  int64_t channels = in_channels;
  for (int64_t i = 0; i < num_blocks; ++i) {
    const int64_t out = std::min(max_features, block_expansion << (i + 1));
    down_blocks_->push_back(std::make_shared<DownBlockImpl>(channels, out, i != num_blocks - 1));
    channels = out;
  }
  conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 1, 1)));
}

DiscriminatorOutput DiscriminatorImpl::forward(const at::Tensor& images) {
  DiscriminatorOutput result;
  at::Tensor out = images;
  for (const auto& block : *down_blocks_) {
    out = block->as<DownBlockImpl>()->forward(out);
    result.features.push_back(out);
  }
  result.score = conv_(out);
  return result;
}

}  // namespace dinet
