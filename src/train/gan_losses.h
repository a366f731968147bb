// The published training losses both generator stages use (reference 5): LSGAN for the
// discriminators and the generator, and the VGG19 perceptual loss at two scales.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

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

}  // namespace dinet::train
