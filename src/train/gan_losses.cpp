#include "train/gan_losses.h"

#include <ATen/ops/avg_pool2d.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/l1_loss.h>
#include <ATen/ops/mse_loss.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/upsample_bilinear2d.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>

#include <vector>

#include "dinet/error.h"

namespace dinet::train {

at::Tensor lsgan(const at::Tensor& score, bool real) {
  const at::Tensor s = score.to(at::kFloat);
  return at::mse_loss(s, real ? at::ones_like(s) : at::zeros_like(s));
}

at::Tensor discriminator_loss(Discriminator& d, const at::Tensor& fake, const at::Tensor& real) {
  const int64_t n = fake.size(0);
  const at::Tensor score = d->forward(at::cat({fake, real})).score;
  return (lsgan(score.narrow(0, 0, n), false) + lsgan(score.narrow(0, n, n), true)) * 0.5;
}

at::Tensor perception_loss(VGG19& vgg, const at::Tensor& fake, const at::Tensor& target) {
  std::vector<at::Tensor> real_full, real_half;
  {
    torch::NoGradGuard no_grad;
    real_full = vgg->forward(target);
    real_half = vgg->forward(
        at::upsample_bilinear2d(target, {target.size(2) / 2, target.size(3) / 2}, false, 0.5, 0.5));
  }
  const at::Tensor fake_half = at::avg_pool2d(fake, {3, 3}, {2, 2}, {1, 1}, false, /*count_include_pad=*/false);
  const std::vector<at::Tensor> fake_full = vgg->forward(fake), fake_low = vgg->forward(fake_half);
  at::Tensor loss = at::zeros({}, target.options().dtype(at::kFloat));
  for (size_t i = 0; i < fake_full.size(); ++i) {
    loss = loss + at::l1_loss(fake_full[i].to(at::kFloat), real_full[i].to(at::kFloat));
    loss = loss + at::l1_loss(fake_low[i].to(at::kFloat), real_half[i].to(at::kFloat));
  }
  return loss / static_cast<double>(2 * fake_full.size());
}

void set_requires_grad(torch::nn::Module& module, bool on) {
  for (auto& p : module.parameters()) p.set_requires_grad(on);
}

void check_vgg_weights_option(const std::string& weights) {
  if (weights.empty())
    throw Error("--vgg_weights", "required: torchvision's vgg19-dcbb9e9d.pth "
                                 "(https://download.pytorch.org/models/vgg19-dcbb9e9d.pth), or 'random' "
                                 "for tests (the perceptual loss is then meaningless)");
}

VGG19 perceptual_network(const std::string& weights) {
  return weights == "random" ? VGG19() : load_vgg19(weights);
}

}  // namespace dinet::train
