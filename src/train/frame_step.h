// One iteration of the published frame stage (train_DINet_frame.py, reference 5), and the
// evaluation of the generator on fixed samples.
#pragma once

#include <torch/optim/adam.h>

#include "dinet/distributed.h"
#include "dinet/networks.h"
#include "train/compute.h"
#include "train/samples.h"

namespace dinet::train {

struct FrameLosses {
  double d = 0;           // discriminator: 0.5 (MSE(D(fake), 0) + MSE(D(real), 1))
  double g_gan = 0;       // generator's LSGAN term MSE(D(fake), 1)
  double perception = 0;  // lamb_perception x mean L1 of 5 VGG layers at 2 scales
};

// The published learning-rate factor after `scheduler_steps` epochs (get_scheduler's
// lambda): 1 for `non_decay` epochs, then down by 1/(decay+1) per epoch.
double lr_factor(int64_t scheduler_steps, int64_t non_decay, int64_t decay);

class FrameStep {
 public:
  // With `dist` active, both networks' gradients are averaged over its ranks before every
  // optimizer step (the trainer shares the networks and their BatchNorm: share_network).
  FrameStep(DINet generator, Discriminator discriminator, VGG19 vgg, const Compute& compute,
            double lr_g, double lr_dI, double lamb_perception, Distributed dist = Distributed());

  // The published iteration, computed with less work and the same updates: the
  // discriminator sees the generated frames detached (the published code back-propagates
  // its loss through the generator, then zeroes those gradients), real and generated frames
  // go through it as one batch (it has no batch statistics), the VGG features of the target
  // are computed without autograd, and the generator's loss does not accumulate gradients
  // in the discriminator (which the next iteration zeroes).
  FrameLosses step(const FrameBatch& batch);

  // The generator's output in eval mode (running BatchNorm statistics), without autograd.
  at::Tensor generate(const FrameBatch& batch);

  // A train-mode forward of the generator without autograd: it changes nothing but the
  // generator's running BatchNorm statistics (estimate_batchnorm_statistics).
  void forward_for_statistics(const FrameBatch& batch);

  DINet& generator() { return g_; }
  Discriminator& discriminator() { return d_; }
  torch::optim::Adam& optimizer_g() { return opt_g_; }
  torch::optim::Adam& optimizer_d() { return opt_d_; }
  GradScaler& scaler() { return scaler_; }
  const Compute& compute() const { return compute_; }

 private:
  DINet g_;
  Discriminator d_;
  VGG19 vgg_;
  Compute compute_;
  torch::optim::Adam opt_g_, opt_d_;
  GradScaler scaler_;
  double lamb_perception_;
  Distributed dist_;
};

// Mean absolute difference over the mouth rectangle of (B,3,H,W) images.
double mouth_l1(const at::Tensor& a, const at::Tensor& b, const FaceSize& face);

}  // namespace dinet::train
