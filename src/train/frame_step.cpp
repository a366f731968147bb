#include "train/frame_step.h"

#include <torch/autograd.h>

#include <algorithm>

#include "train/gan_losses.h"

namespace dinet::train {

double lr_factor(int64_t scheduler_steps, int64_t non_decay, int64_t decay) {
  return 1.0 - static_cast<double>(std::max<int64_t>(0, scheduler_steps - non_decay)) /
                   static_cast<double>(decay + 1);
}

FrameStep::FrameStep(DINet generator, Discriminator discriminator, VGG19 vgg, const Compute& compute,
                     double lr_g, double lr_dI, double lamb_perception, Distributed dist)
    : g_(compute.placed(std::move(generator))),
      d_(compute.placed(std::move(discriminator))),
      vgg_(compute.placed(std::move(vgg))),
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
    loss_d = discriminator_loss(d_, fake.detach(), target);
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
    loss_perception = perception_loss(vgg_, fake, target) * lamb_perception_;
  }
  opt_g_.zero_grad();
  scaler_.scale(loss_perception + loss_gan).backward();
  dist_.all_reduce_gradients(*g_);
  scaler_.step(opt_g_);
  scaler_.update();
  return {loss_d.item<double>(), loss_gan.item<double>(), loss_perception.item<double>()};
}

void FrameStep::forward_for_statistics(const FrameBatch& batch) {
  forward_without_grad(g_, compute_, /*train_mode=*/true, batch.masked, batch.references, batch.audio);
}

at::Tensor FrameStep::generate(const FrameBatch& batch) {
  return forward_without_grad(g_, compute_, /*train_mode=*/false, batch.masked, batch.references, batch.audio)
      .to(at::kFloat)
      .cpu()
      .contiguous();
}

double mouth_l1(const at::Tensor& a, const at::Tensor& b, const FaceSize& face) {
  auto mouth = [&](const at::Tensor& x) {
    return x.to(at::kFloat).cpu().narrow(2, face.r, face.mouth).narrow(3, face.q, face.mouth);
  };
  return (mouth(a) - mouth(b)).abs().mean().item<double>();
}

}  // namespace dinet::train
