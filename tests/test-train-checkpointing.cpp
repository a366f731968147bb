// Gradient checkpointing (`--gradient_checkpointing`): a training step that recomputes the
// generator's segments in the backward takes the same step as one that keeps them.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <fstream>

#include "dinet/crop.h"
#include "dinet/networks.h"
#include "dinet/checkpoint.h"
#include "test_support.h"
#include "train/frame_step.h"
#include "train_test_data.h"

namespace {
using namespace dinet::train;

template <class Net>
Net copy_of(const Net& net, Net fresh) {
  dinet::load_state_dict(*fresh, dinet::module_state_dict(*net), "copy");
  return fresh;
}

// How close the two steps must be. The recompute gives the same forward, but the gradient
// of a tensor with several consumers (the reference features) is summed in another order.
struct Tolerances {
  double relative;  // ||a - b|| / ||b|| per gradient tensor, and for the losses
  // The gradient of a convolution's bias followed by train-mode BatchNorm is zero: what is
  // computed is rounding noise, which only has to stay below this fraction of the network's
  // gradient norm.
  double noise;
  double update;  // ||a - b|| / ||b|| per tensor of the weight change; 0: not compared
};

// The generator's conv -> BatchNorm in the Same/Down/Up blocks and conv1 -> norm2 in the
// residual blocks (the discriminator has no BatchNorm).
bool zero_gradient(const std::string& name) {
  auto ends_with = [&](const std::string& end) {
    return name.size() >= end.size() && name.compare(name.size() - end.size(), end.size(), end) == 0;
  };
  return ends_with(".conv.bias") || ends_with(".conv1.bias");
}

using Named = torch::OrderedDict<std::string, at::Tensor>;

// The worst relative difference of a against b over the tensors whose gradient is not zero;
// with `batch_norm`, those whose gradient is zero must be rounding noise in both.
double worst_relative_difference(const Named& a, const Named& b, const Named& grads_a, const Named& grads_b,
                                 double noise, bool batch_norm = true) {
  EXPECT_EQ(a.size(), b.size());
  double network_norm = 0;
  for (const auto& g : grads_b) network_norm += g.value().to(torch::kDouble).pow(2).sum().item<double>();
  const double noise_norm = noise * std::sqrt(network_norm);
  double worst = 0;
  for (const auto& item : b) {
    const std::string& name = item.key();
    if (batch_norm && zero_gradient(name)) {
      EXPECT_LT(grads_a[name].norm().item<double>(), noise_norm) << name;
      EXPECT_LT(grads_b[name].norm().item<double>(), noise_norm) << name;
      continue;
    }
    const at::Tensor x = a[name].to(torch::kDouble), y = item.value().to(torch::kDouble);
    worst = std::max(worst, (x - y).norm().item<double>() / y.norm().item<double>());
  }
  return worst;
}

Named gradients(torch::nn::Module& net) {
  Named grads;
  for (const auto& p : net.named_parameters())
    grads.insert(p.key(), p.value().grad().defined() ? p.value().grad() : torch::zeros_like(p.value()));
  return grads;
}

Named updates(torch::nn::Module& after, torch::nn::Module& before) {
  Named steps;
  const Named b = before.named_parameters();
  for (const auto& p : after.named_parameters()) steps.insert(p.key(), p.value() - b[p.key()]);
  return steps;
}

// One step of each from the same weights and batch: the losses, the gradients of both
// networks, the generator's weight changes and its BatchNorm statistics agree.
void expect_same_step(const std::string& precision, const Tolerances& tol) {
  torch::manual_seed(7);
  dinet::DINet g(3, 15, 29);
  dinet::Discriminator d(3);
  dinet::VGG19 vgg;
  const FrameBatch batch = random_frame_batch(dinet::face_size(64), 2);
  const Compute compute = resolve_compute("cpu", precision, /*channels_last=*/false);
  FrameStep kept(copy_of(g, dinet::DINet(3, 15, 29)), copy_of(d, dinet::Discriminator(3)), vgg, compute, 1e-4,
                 1e-4, 10.0);
  dinet::DINet checkpointed = copy_of(g, dinet::DINet(3, 15, 29));
  checkpointed->set_gradient_checkpointing(true);
  FrameStep recomputing(checkpointed, copy_of(d, dinet::Discriminator(3)), vgg, compute, 1e-4, 1e-4, 10.0);

  const FrameLosses a = kept.step(batch), b = recomputing.step(batch);
  EXPECT_NEAR(b.perception, a.perception, tol.relative * a.perception);
  EXPECT_NEAR(b.d, a.d, tol.relative * a.d);
  EXPECT_NEAR(b.g_gan, a.g_gan, tol.relative * a.g_gan);
  const Named kept_g = gradients(*kept.generator()), recomputed_g = gradients(*recomputing.generator());
  EXPECT_LE(worst_relative_difference(recomputed_g, kept_g, recomputed_g, kept_g, tol.noise), tol.relative)
      << "generator gradients";
  const Named kept_d = gradients(*kept.discriminator()), recomputed_d = gradients(*recomputing.discriminator());
  EXPECT_LE(worst_relative_difference(recomputed_d, kept_d, recomputed_d, kept_d, tol.noise, false), tol.relative)
      << "discriminator gradients";
  if (tol.update > 0)
    EXPECT_LE(worst_relative_difference(updates(*recomputing.generator(), *g), updates(*kept.generator(), *g),
                                        recomputed_g, kept_g, tol.noise),
              tol.update)
        << "generator weights after the step";

  // Updated once, by the forward, and not again by the recompute.
  const auto stats = kept.generator()->named_buffers(), recomputed_stats = recomputing.generator()->named_buffers();
  ASSERT_EQ(stats.size(), recomputed_stats.size());
  for (const auto& item : stats) {
    EXPECT_TRUE(torch::equal(recomputed_stats[item.key()], item.value())) << item.key();
    if (item.key().find("num_batches_tracked") != std::string::npos) EXPECT_EQ(item.value().item<int64_t>(), 1);
  }
}

// Gradients agree to ~1e-6 (measured 1.3e-6, the reference encoder). Adam's first step is
// about lr x sign(gradient), which turns those differences into 5e-5 of a weight change
// where a gradient is near zero.
TEST(GradientCheckpointing, SameStepInFp32) { expect_same_step("fp32", {1e-5, 1e-6, 2e-4}); }

TEST(GradientCheckpointing, SameStepInBf16) {
  try {
    resolve_compute("cpu", "bf16", false);
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  // The recompute runs under the forward's autocast. The reference encoder's gradients
  // come from a bf16 sum of three terms in another order: 0.6% apart (measured), the others
  // are equal. Weight changes are lr x sign(gradient), which flips wherever a bf16 gradient
  // is near zero: not compared.
  expect_same_step("bf16", {2e-2, 1e-3, 0});
}

TEST(GradientCheckpointing, NothingKeptWithoutAutograd) {
  torch::manual_seed(8);
  dinet::DINet g(3, 15, 29);
  g->set_gradient_checkpointing(true);
  g->eval();
  const FrameBatch batch = random_frame_batch(dinet::face_size(64), 1);
  torch::NoGradGuard no_grad;
  const at::Tensor with = g->forward(batch.masked, batch.references, batch.audio);
  g->set_gradient_checkpointing(false);
  EXPECT_TRUE(torch::equal(with, g->forward(batch.masked, batch.references, batch.audio)));
}

// The option reaches both trainers, and the run's start record says it was on.
TEST(GradientCheckpointing, TrainerOption) {
  dinet::test::TempDir dir;
  const std::filesystem::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 7});
  const auto r = dinet::test::run_dinet(
      "train frame --train_data " + json.string() + " --result_path " + (dir / "out").string() +
      " --mouth_region_size 64 --batch_size 2 --augment_num 2 --vgg_weights random --eval_samples 2"
      " --workers 1 --threads 2 --quiet --end_epoch 1 --gradient_checkpointing");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream log(dir / "out" / "train_log.jsonl");
  std::string start;
  std::getline(log, start);
  EXPECT_NE(start.find("\"gradient_checkpointing\":true"), std::string::npos) << start;
  EXPECT_NE(dinet::test::run_dinet("train clip --help").output.find("--gradient_checkpointing"), std::string::npos);
}

}  // namespace
