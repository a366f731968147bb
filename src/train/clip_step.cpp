#include "train/clip_step.h"

#include <ATen/ops/mse_loss.h>
#include <ATen/ops/ones_like.h>
#include <torch/autograd.h>

#include "train/gan_losses.h"

namespace dinet::train {

ClipStep::ClipStep(DINet generator, Discriminator frame_d, Discriminator clip_d, VGG19 vgg, SyncNet syncnet,
                   const Compute& compute, const FaceSize& face, const ClipStepOptions& options,
                   Distributed dist)
    : g_(compute.placed(std::move(generator))),
      d_frame_(compute.placed(std::move(frame_d))),
      d_clip_(compute.placed(std::move(clip_d))),
      vgg_(compute.placed(std::move(vgg))),
      sync_(compute.placed(std::move(syncnet))),
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

void ClipStep::forward_for_statistics(const ClipBatch& batch) {
  forward_without_grad(g_, compute_, /*train_mode=*/true, batch.masked, batch.references, batch.audio);
}

at::Tensor ClipStep::generate(const ClipBatch& batch) {
  return forward_without_grad(g_, compute_, /*train_mode=*/false, batch.masked, batch.references, batch.audio)
      .to(at::kFloat)
      .cpu()
      .contiguous();
}

at::Tensor ClipStep::sync_scores(const at::Tensor& frames, const ClipBatch& batch) {
  const at::Tensor mouths = mouth_region(stack_clip_frames(frames, batch.clips()), face_);
  const at::Tensor score = forward_without_grad(sync_, compute_, /*train_mode=*/false, mouths, batch.clip_audio);
  return score.to(at::kFloat).flatten(1).mean(1).cpu();
}

}  // namespace dinet::train
