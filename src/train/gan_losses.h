// The published training losses both generator stages use (reference 5): LSGAN for the
// discriminators and the generator, and the VGG19 perceptual loss at two scales.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <string>

#include "dinet/networks.h"

namespace dinet::train {

// GANLoss of the published code (LSGAN): MSE of every score to 1 (real) or 0 (fake).
at::Tensor lsgan(const at::Tensor& score, bool real);

// 0.5 (MSE(D(fake), 0) + MSE(D(real), 1)), fake and real through D as one batch (the
// discriminator has no batch statistics, so this equals two separate passes).
at::Tensor discriminator_loss(Discriminator& d, const at::Tensor& fake, const at::Tensor& real);

// L1 of the 5 VGG feature maps at full resolution and at half (generated: 3x3 average
// pooling, stride 2, padding not counted; target: bilinear scale 0.5 as F.interpolate
// passes it), averaged over the 10 terms. The target's features need no autograd.
at::Tensor perception_loss(VGG19& vgg, const at::Tensor& fake, const at::Tensor& target);

void set_requires_grad(torch::nn::Module& module, bool on);

// --vgg_weights of the frame and clip stages: torchvision's vgg19-dcbb9e9d.pth, or "random"
// (tests, benchmarks). The check runs before any work; the network is built after
// setup_run has seeded LibTorch, so random weights are the same in every run and on every
// rank (a resumed run must have the perceptual network of the run it continues).
void check_vgg_weights_option(const std::string& weights);
VGG19 perceptual_network(const std::string& weights);

}  // namespace dinet::train
