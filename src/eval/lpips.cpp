#include "eval/lpips.h"

#include <ATen/ATen.h>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/pooling.h>

#include <algorithm>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/files.h"

namespace dinet::eval {
namespace {

// One entry of torchvision's `features`: a conv followed by its ReLU, or a max-pool (out = 0).
struct Layer {
  int64_t out;
  int64_t kernel, stride, padding;
};
constexpr Layer pool(int64_t kernel, int64_t stride) { return {0, kernel, stride, 0}; }
constexpr Layer conv(int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return {out, kernel, stride, padding};
}
constexpr Layer conv3(int64_t out) { return conv(out, 3, 1, 1); }

struct Layout {
  std::vector<Layer> layers;
  std::vector<size_t> taps;  // indices in `features` of the ReLUs lpips compares
};

// torchvision's alexnet().features and vgg16().features (as far as lpips reads them).
Layout layout(LpipsBackbone backbone) {
  if (backbone == LpipsBackbone::alex)
    return {{conv(64, 11, 4, 2), pool(3, 2), conv(192, 5, 1, 2), pool(3, 2), conv3(384), conv3(256),
             conv3(256)},
            {1, 4, 7, 9, 11}};
  return {{conv3(64), conv3(64), pool(2, 2), conv3(128), conv3(128), pool(2, 2), conv3(256), conv3(256),
           conv3(256), pool(2, 2), conv3(512), conv3(512), conv3(512), pool(2, 2), conv3(512), conv3(512),
           conv3(512)},
          {3, 8, 15, 22, 29}};
}

}  // namespace

std::string to_string(LpipsBackbone backbone) { return backbone == LpipsBackbone::alex ? "alex" : "vgg16"; }

LpipsImpl::LpipsImpl(LpipsBackbone backbone) : backbone_(backbone) {
  const Layout spec = layout(backbone);
  tap_layers_ = spec.taps;
  backbone_weights_ = register_module("backbone", std::make_shared<torch::nn::Module>());
  features_ = backbone_weights_->register_module("features", torch::nn::Sequential());
  std::vector<int64_t> tap_channels;
  int64_t channels = 3;
  for (const Layer& layer : spec.layers) {
    if (layer.out == 0) {
      features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(layer.kernel).stride(layer.stride)));
      continue;
    }
    features_->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(channels, layer.out, layer.kernel).stride(layer.stride).padding(layer.padding)));
    features_->push_back(torch::nn::ReLU());
    channels = layer.out;
    for (size_t tap : tap_layers_)
      if (tap + 1 == features_->size()) tap_channels.push_back(channels);
  }
  heads_ = register_module("heads", std::make_shared<torch::nn::Module>());
  for (size_t k = 0; k < tap_channels.size(); ++k) {
    // lpips' NetLinLayer: Sequential(Dropout, 1x1 conv without bias), hence `linK.model.1.weight`.
    auto lin = heads_->register_module("lin" + std::to_string(k), std::make_shared<torch::nn::Module>());
    lins_.push_back(lin->register_module(
        "model", torch::nn::Sequential(torch::nn::Dropout(),
                                       torch::nn::Conv2d(torch::nn::Conv2dOptions(tap_channels[k], 1, 1).bias(false)))));
  }
}

std::vector<at::Tensor> LpipsImpl::taps(const at::Tensor& x) {
  std::vector<at::Tensor> out;
  at::Tensor h = x;
  size_t index = 0;
  for (auto& layer : *features_) {
    h = layer.forward(h);
    if (std::find(tap_layers_.begin(), tap_layers_.end(), index) != tap_layers_.end()) out.push_back(h);
    if (index++ == tap_layers_.back()) break;
  }
  return out;
}

at::Tensor LpipsImpl::forward(const at::Tensor& a, const at::Tensor& b) {
  // lpips' ScalingLayer, applied to inputs in [-1,1].
  const auto options = a.options();
  const at::Tensor shift = torch::tensor({-.030, -.088, -.188}, options).view({1, 3, 1, 1});
  const at::Tensor scale = torch::tensor({.458, .448, .450}, options).view({1, 3, 1, 1});
  const int64_t n = a.size(0);
  const std::vector<at::Tensor> features = taps((torch::cat({a, b}) * 2 - 1 - shift) / scale);
  at::Tensor distance = torch::zeros({n}, options);
  for (size_t k = 0; k < features.size(); ++k) {
    // Unit length over channels; lpips adds 1e-10 to the norm, not under the root.
    const at::Tensor unit = features[k] / (features[k].pow(2).sum(1, true).sqrt() + 1e-10);
    const at::Tensor diff = (unit.slice(0, 0, n) - unit.slice(0, n)).pow(2);
    const at::Tensor weighted = lins_[k]->forward(diff);
    distance += weighted.mean({1, 2, 3});
  }
  return distance;
}

Lpips load_lpips(const std::filesystem::path& heads_file, const std::filesystem::path& backbone_file) {
  require_file(backbone_file, "LPIPS backbone file");
  require_file(heads_file, "LPIPS weights file");
  StateDict backbone_state;
  for (auto& [key, tensor] : read_state_dict(backbone_file, {}))
    if (key.rfind("features.", 0) == 0) backbone_state.emplace_back(key, tensor);  // classifier.* unused
  const auto first = std::find_if(backbone_state.begin(), backbone_state.end(),
                                  [](const auto& kv) { return kv.first == "features.0.weight"; });
  const std::string expected_backbone =
      "torchvision's AlexNet (alexnet-owt-7be5be79.pth) or VGG16 (vgg16-397923af.pth)";
  if (first == backbone_state.end() || first->second.dim() != 4)
    throw Error(backbone_file.string(), "no features.0.weight convolution: not " + expected_backbone);
  const int64_t kernel = first->second.size(3);
  if (kernel != 11 && kernel != 3)
    throw Error(backbone_file.string(), "features.0.weight has a " + std::to_string(kernel) +
                                            "-pixel kernel: not " + expected_backbone);
  Lpips net(kernel == 11 ? LpipsBackbone::alex : LpipsBackbone::vgg16);
  load_state_dict(net->backbone_weights(), backbone_state, backbone_file.string());

  const StateDict heads_state = read_state_dict(heads_file, {});
  const auto lin1 = std::find_if(heads_state.begin(), heads_state.end(),
                                 [](const auto& kv) { return kv.first == "lin1.model.1.weight"; });
  if (lin1 == heads_state.end())
    throw Error(heads_file.string(), "no lin1.model.1.weight: not the lpips package's linear heads "
                                     "(alex.pth or vgg.pth of version 0.1)");
  const int64_t lin1_channels = lin1->second.dim() == 4 ? lin1->second.size(1) : -1;
  const int64_t backbone_channels = kernel == 11 ? 192 : 128;
  if (lin1_channels != backbone_channels)
    throw Error(heads_file.string(), "lin1 weighs " + std::to_string(lin1_channels) + " channels, the " +
                                         to_string(net->backbone()) + " backbone of " +
                                         backbone_file.filename().string() + " gives " +
                                         std::to_string(backbone_channels) +
                                         ": heads for another backbone (alex.pth goes with AlexNet, vgg.pth with VGG16)");
  load_state_dict(net->head_weights(), heads_state, heads_file.string());
  net->eval();
  return net;
}

}  // namespace dinet::eval
