#include "train/frame_step.h"

#include <ATen/ops/avg_pool2d.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/l1_loss.h>
#include <ATen/ops/mse_loss.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/upsample_bilinear2d.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>

#include <algorithm>

namespace dinet::train {
namespace {

at::Tensor lsgan(const at::Tensor& score, bool real) {
  const at::Tensor s = score.to(at::kFloat);
  return at::mse_loss(s, real ? at::ones_like(s) : at::zeros_like(s));
}

void set_requires_grad(torch::nn::Module& module, bool on) {
  for (auto& p : module.parameters()) p.set_requires_grad(on);
}

// F.interpolate(x, scale_factor=0.5, mode='bilinear'), align_corners False, with the scale
// passed to the kernel as the published call does.
at::Tensor half_bilinear(const at::Tensor& x) {
  return at::upsample_bilinear2d(x, {x.size(2) / 2, x.size(3) / 2}, false, 0.5, 0.5);
}

template <class Net>
Net placed(Net net, const Compute& compute) {
  compute.place(*net);
  return net;
}

}  // namespace

double lr_factor(int64_t scheduler_steps, int64_t non_decay, int64_t decay) {
  return 1.0 - static_cast<double>(std::max<int64_t>(0, scheduler_steps - non_decay)) /
                   static_cast<double>(decay + 1);
}

FrameStep::FrameStep(DINet generator, Discriminator discriminator, VGG19 vgg, const Compute& compute,
                     double lr_g, double lr_dI, double lamb_perception, Distributed dist)
    : g_(placed(std::move(generator), compute)),
      d_(placed(std::move(discriminator), compute)),
      vgg_(placed(std::move(vgg), compute)),
      compute_(compute),
      opt_g_(g_->parameters(), torch::optim::AdamOptions(lr_g)),
      opt_d_(d_->parameters(), torch::optim::AdamOptions(lr_dI)),
      scaler_(compute.precision == "fp16"),
      lamb_perception_(lamb_perception),
      dist_(std::move(dist)) {
  vgg_->eval();
  set_requires_grad(*vgg_, false);
}

FrameLosses FrameStep::step(const FrameBatch& batch) {
  g_->train();
  const at::Tensor target = compute_.input(batch.target);
  const at::Tensor masked = compute_.input(batch.masked);
  const at::Tensor refs = compute_.input(batch.references);
  const at::Tensor audio = compute_.input(batch.audio);
  const int64_t b = target.size(0);

  at::Tensor fake;
  {
    AutocastScope autocast(compute_);
    fake = g_->forward(masked, refs, audio);
  }

  // (1) the discriminator
  set_requires_grad(*d_, true);
  at::Tensor loss_d;
  {
    AutocastScope autocast(compute_);
    const at::Tensor score = d_->forward(at::cat({fake.detach(), target})).score;
    loss_d = (lsgan(score.narrow(0, 0, b), false) + lsgan(score.narrow(0, b, b), true)) * 0.5;
  }
  opt_d_.zero_grad();
  scaler_.scale(loss_d).backward();
  dist_.all_reduce_gradients(*d_);  // scaled gradients: every rank then agrees on an overflow
  scaler_.step(opt_d_);

  // (2) the generator, against the updated discriminator
  set_requires_grad(*d_, false);
  at::Tensor loss_gan, loss_perception;
  {
    AutocastScope autocast(compute_);
    loss_gan = lsgan(d_->forward(fake).score, true);
    const at::Tensor fake_half = at::avg_pool2d(fake, {3, 3}, {2, 2}, {1, 1}, false, /*count_include_pad=*/false);
    std::vector<at::Tensor> real_full, real_half;
    {
      torch::NoGradGuard no_grad;
      real_full = vgg_->forward(target);
      real_half = vgg_->forward(half_bilinear(target));
    }
    const std::vector<at::Tensor> fake_full = vgg_->forward(fake), fake_low = vgg_->forward(fake_half);
    loss_perception = at::zeros({}, target.options().dtype(at::kFloat));
    for (size_t i = 0; i < fake_full.size(); ++i) {
      loss_perception = loss_perception + at::l1_loss(fake_full[i].to(at::kFloat), real_full[i].to(at::kFloat));
      loss_perception = loss_perception + at::l1_loss(fake_low[i].to(at::kFloat), real_half[i].to(at::kFloat));
    }
    loss_perception = loss_perception / static_cast<double>(2 * fake_full.size()) * lamb_perception_;
  }
  opt_g_.zero_grad();
  scaler_.scale(loss_perception + loss_gan).backward();
  dist_.all_reduce_gradients(*g_);
  scaler_.step(opt_g_);
  scaler_.update();
  return {loss_d.item<double>(), loss_gan.item<double>(), loss_perception.item<double>()};
}

at::Tensor FrameStep::generate(const FrameBatch& batch) {
  torch::NoGradGuard no_grad;
  g_->eval();
  AutocastScope autocast(compute_);
  at::Tensor out = g_->forward(compute_.input(batch.masked), compute_.input(batch.references),
                               compute_.input(batch.audio));
  return out.to(at::kFloat).cpu().contiguous();
}

double mouth_l1(const at::Tensor& a, const at::Tensor& b, const FaceSize& face) {
  auto mouth = [&](const at::Tensor& x) {
    return x.to(at::kFloat).cpu().narrow(2, face.r, face.mouth).narrow(3, face.q, face.mouth);
  };
  return (mouth(a) - mouth(b)).abs().mean().item<double>();
}

}  // namespace dinet::train
