// The Inception v3 of FID (Heusel et al. 2017) as pytorch-fid runs it: torchvision's Inception3
// layout with TensorFlow's quirks (average pools that do not count the padding, a max pool in
// the last block's pool branch), cut at the 2048-d pool3 features. Children carry
// torchvision's names (Conv2d_1a_3x3.conv.weight, Mixed_5b.branch1x1.bn.running_mean, ...),
// so pytorch-fid's pt_inception-2015-12-05-6726825d.pth loads by key.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <filesystem>

namespace dinet::eval {

class FidInceptionImpl : public torch::nn::Module {
 public:
  FidInceptionImpl();
  // (N, 3, H, W) RGB in [0,1], any size (resized bilinearly to 299x299) -> (N, 2048).
  at::Tensor forward(const at::Tensor& rgb);

 private:
  torch::nn::Sequential layers_;  // the registered children in order, with the max pools
};
TORCH_MODULE(FidInception);

// The network from pytorch-fid's weights; their 1008-class fc is ignored. Throws dinet::Error
// naming the file when it is missing or not those weights.
FidInception load_fid_inception(const std::filesystem::path& file);

}  // namespace dinet::eval
