// One iteration of the published clip stage (train_DINet_clip.py, reference 5), and the
// generator's evaluation on fixed clips.
#pragma once

#include <torch/optim/adam.h>

#include "dinet/crop.h"
#include "dinet/distributed.h"
#include "dinet/networks.h"
#include "train/clip_samples.h"
#include "train/compute.h"

namespace dinet::train {

struct ClipLosses {
  double d_frame = 0;     // net_dI: 0.5 (MSE(dI(fake), 0) + MSE(dI(real), 1)) over the 5B frames
  double d_clip = 0;      // net_dV: the same on the B clips (5 frames stacked on channels)
  double g_frame = 0;     // generator's MSE(dI(fake), 1)
  double g_clip = 0;      // generator's MSE(dV(fake clip), 1)
  double perception = 0;  // lamb_perception x mean L1 of 5 VGG layers at 2 scales
  double sync = 0;        // lamb_syncnet_perception x MSE(SyncNet(mouths, clip audio), 1)
};

struct ClipStepOptions {
  double lr_g = 1e-4, lr_dI = 1e-4, lr_dV = 1e-4;
  double lamb_perception = 10, lamb_sync = 0.1;
};

class ClipStep {
 public:
  // `syncnet` is frozen (eval mode, no gradients for its parameters); the sync loss's
  // gradient flows through it into the generator only. With `dist` active, the gradients of
  // the generator and both discriminators are averaged over its ranks before every optimizer
  // step (the trainer shares the networks and their BatchNorm: share_network).
  ClipStep(DINet generator, Discriminator frame_d, Discriminator clip_d, VGG19 vgg, SyncNet syncnet,
           const Compute& compute, const FaceSize& face, const ClipStepOptions& options,
           Distributed dist = Distributed());

  // The published iteration with the same updates and less work, as FrameStep: net_dI then
  // net_dV each learn from the generated frames detached, real and generated in one batch;
  // then the generator against both updated discriminators, with the perceptual and sync
  // losses (target VGG features without autograd).
  ClipLosses step(const ClipBatch& batch);

  // The generated frames (5B,3,H,W) in eval mode, without autograd, on the CPU in fp32.
  at::Tensor generate(const ClipBatch& batch);
  // SyncNet's mean score per clip of (5B,3,H,W) frames against the batch's clip audio: (B,).
  at::Tensor sync_scores(const at::Tensor& frames, const ClipBatch& batch);

  // A train-mode forward of the generator without autograd: it changes nothing but the
  // generator's running BatchNorm statistics (estimate_batchnorm_statistics).
  void forward_for_statistics(const ClipBatch& batch);

  DINet& generator() { return g_; }
  Discriminator& frame_discriminator() { return d_frame_; }
  Discriminator& clip_discriminator() { return d_clip_; }
  torch::optim::Adam& optimizer_g() { return opt_g_; }
  torch::optim::Adam& optimizer_dI() { return opt_dI_; }
  torch::optim::Adam& optimizer_dV() { return opt_dV_; }
  GradScaler& scaler() { return scaler_; }

 private:
  DINet g_;
  Discriminator d_frame_, d_clip_;
  VGG19 vgg_;
  SyncNet sync_;
  Compute compute_;
  FaceSize face_;
  torch::optim::Adam opt_g_, opt_dI_, opt_dV_;
  GradScaler scaler_;
  ClipStepOptions options_;
  Distributed dist_;
};

}  // namespace dinet::train
