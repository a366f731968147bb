// LPIPS (Zhang et al. 2018, the `lpips` pip package, version 0.1): a perceptual distance
// from unit-normalised features of torchvision's AlexNet or VGG16, weighted per channel by
// the package's learned 1x1 "lin" layers. Children carry the published names, so
// torchvision's `features.N.*` and the package's `linK.model.1.weight` load by key.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <filesystem>
#include <string>
#include <vector>

namespace dinet::eval {

enum class LpipsBackbone { alex, vgg16 };

class LpipsImpl : public torch::nn::Module {
 public:
  explicit LpipsImpl(LpipsBackbone backbone);
  // a, b: (N, 3, H, W) RGB in [0,1]; returns the N distances (0: identical).
  at::Tensor forward(const at::Tensor& a, const at::Tensor& b);
  LpipsBackbone backbone() const { return backbone_; }
  // The two halves, loaded from separate files: torchvision's `features` (keys
  // features.N.*) and the lpips heads (keys linK.model.1.weight).
  torch::nn::Module& backbone_weights() { return *backbone_weights_; }
  torch::nn::Module& head_weights() { return *heads_; }

 private:
  std::vector<at::Tensor> taps(const at::Tensor& x);

  LpipsBackbone backbone_;
  std::shared_ptr<torch::nn::Module> backbone_weights_;  // holds `features`
  torch::nn::Sequential features_{nullptr};
  std::shared_ptr<torch::nn::Module> heads_;  // lin0..lin4
  std::vector<torch::nn::Sequential> lins_;   // their `model`s
  std::vector<size_t> tap_layers_;            // the ReLUs whose outputs are compared
};
TORCH_MODULE(Lpips);

// The network from torchvision's weights (`alexnet-owt-7be5be79.pth` or `vgg16-397923af.pth`;
// the backbone is recognised by its first kernel) and the lpips package's heads (`alex.pth`
// or `vgg.pth`). Throws dinet::Error naming the file that is missing or does not fit.
Lpips load_lpips(const std::filesystem::path& heads_file, const std::filesystem::path& backbone_file);

std::string to_string(LpipsBackbone backbone);

}  // namespace dinet::eval
