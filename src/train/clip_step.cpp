#include "train/clip_step.h"

#include <ATen/ops/avg_pool2d.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/l1_loss.h>
#include <ATen/ops/mse_loss.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/upsample_bilinear2d.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>

namespace dinet::train {
namespace {

// GANLoss of the published code (LSGAN): MSE of every score to 1 (real) or 0 (fake).
at::Tensor lsgan(const at::Tensor& score, bool real) {
  const at::Tensor s = score.to(at::kFloat);
  return at::mse_loss(s, real ? at::ones_like(s) : at::zeros_like(s));
}

void set_requires_grad(torch::nn::Module& module, bool on) {
  for (auto& p : module.parameters()) p.set_requires_grad(on);
}

template <class Net>
Net placed(Net net, const Compute& compute) {
  compute.place(*net);
  return net;
}

// 0.5 (MSE(D(fake), 0) + MSE(D(real), 1)), fake and real through D as one batch (the
// discriminator has no batch statistics, so this equals two separate passes).
at::Tensor discriminator_loss(Discriminator& d, const at::Tensor& fake, const at::Tensor& real) {
  const int64_t n = fake.size(0);
  const at::Tensor score = d->forward(at::cat({fake, real})).score;
  return (lsgan(score.narrow(0, 0, n), false) + lsgan(score.narrow(0, n, n), true)) * 0.5;
}

// The published perceptual loss: L1 of the 5 VGG feature maps at full resolution and at
// half (generated: 3x3 average pooling, stride 2, padding not counted; target: bilinear
// scale 0.5), averaged over the 10 terms.
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

}  // namespace

ClipStep::ClipStep(DINet generator, Discriminator frame_d, Discriminator clip_d, VGG19 vgg, SyncNet syncnet,
                   const Compute& compute, const FaceSize& face, const ClipStepOptions& options,
                   Distributed dist)
    : g_(placed(std::move(generator), compute)),
      d_frame_(placed(std::move(frame_d), compute)),
      d_clip_(placed(std::move(clip_d), compute)),
      vgg_(placed(std::move(vgg), compute)),
      sync_(placed(std::move(syncnet), compute)),
      compute_(compute),
      face_(face),
      opt_g_(g_->parameters(), torch::optim::AdamOptions(options.lr_g)),
      opt_dI_(d_frame_->parameters(), torch::optim::AdamOptions(options.lr_dI)),
      opt_dV_(d_clip_->parameters(), torch::optim::AdamOptions(options.lr_dV)),
      scaler_(compute.precision == "fp16"),
      options_(options),
      dist_(std::move(dist)) {
  vgg_->eval();
  set_requires_grad(*vgg_, false);
  sync_->eval();
  set_requires_grad(*sync_, false);
}

ClipLosses ClipStep::step(const ClipBatch& batch) {
  g_->train();
  const int64_t clips = batch.clips();
  const at::Tensor target = compute_.input(batch.target);
  const at::Tensor clip_audio = compute_.input(batch.clip_audio);
  at::Tensor fake, fake_clip, real_clip;
  {
    AutocastScope autocast(compute_);
    fake = g_->forward(compute_.input(batch.masked), compute_.input(batch.references), compute_.input(batch.audio));
    fake_clip = stack_clip_frames(fake, clips);
    real_clip = stack_clip_frames(target, clips);
  }

  // (1) the frame discriminator, (2) the clip discriminator: each on detached frames.
  set_requires_grad(*d_frame_, true);
  set_requires_grad(*d_clip_, true);
  at::Tensor loss_dI, loss_dV;
  {
    AutocastScope autocast(compute_);
    loss_dI = discriminator_loss(d_frame_, fake.detach(), target);
  }
  opt_dI_.zero_grad();
  scaler_.scale(loss_dI).backward();
  dist_.all_reduce_gradients(*d_frame_);  // scaled gradients: every rank then agrees on an overflow
  scaler_.step(opt_dI_);
  {
    AutocastScope autocast(compute_);
    loss_dV = discriminator_loss(d_clip_, fake_clip.detach(), real_clip);
  }
  opt_dV_.zero_grad();
  scaler_.scale(loss_dV).backward();
  dist_.all_reduce_gradients(*d_clip_);
  scaler_.step(opt_dV_);

  // (3) the generator, against the updated discriminators; SyncNet is frozen.
  set_requires_grad(*d_frame_, false);
  set_requires_grad(*d_clip_, false);
  at::Tensor loss_gI, loss_gV, loss_perception, loss_sync;
  {
    AutocastScope autocast(compute_);
    loss_gI = lsgan(d_frame_->forward(fake).score, true);
    loss_gV = lsgan(d_clip_->forward(fake_clip).score, true);
    loss_perception = perception_loss(vgg_, fake, target) * options_.lamb_perception;
    const at::Tensor score = sync_->forward(mouth_region(fake_clip, face_), clip_audio).to(at::kFloat);
    loss_sync = at::mse_loss(score, at::ones_like(score)) * options_.lamb_sync;
  }
  opt_g_.zero_grad();
  scaler_.scale(loss_perception + loss_gI + loss_gV + loss_sync).backward();
  dist_.all_reduce_gradients(*g_);
  scaler_.step(opt_g_);
  scaler_.update();
  return {loss_dI.item<double>(),  loss_dV.item<double>(),         loss_gI.item<double>(),
          loss_gV.item<double>(), loss_perception.item<double>(), loss_sync.item<double>()};
}

at::Tensor ClipStep::generate(const ClipBatch& batch) {
  torch::NoGradGuard no_grad;
  g_->eval();
  AutocastScope autocast(compute_);
  const at::Tensor out = g_->forward(compute_.input(batch.masked), compute_.input(batch.references),
                                     compute_.input(batch.audio));
  return out.to(at::kFloat).cpu().contiguous();
}

at::Tensor ClipStep::sync_scores(const at::Tensor& frames, const ClipBatch& batch) {
  torch::NoGradGuard no_grad;
  AutocastScope autocast(compute_);
  const at::Tensor mouths = compute_.input(mouth_region(stack_clip_frames(frames, batch.clips()), face_));
  const at::Tensor score = sync_->forward(mouths, compute_.input(batch.clip_audio));
  return score.to(at::kFloat).flatten(1).mean(1).cpu();
}

}  // namespace dinet::train
