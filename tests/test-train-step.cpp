// The training step and its state: our frame step gives the published step's gradients,
// the published learning-rate schedule, loss scaling, optimizer state that survives a save
// and load, and BatchNorm statistics re-estimated from the current weights.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/networks.h"
#include "dinet/torch_file.h"
#include "model/blocks.h"
#include "test_support.h"
#include "train/batchnorm_statistics.h"
#include "train/frame_step.h"
#include "train/optimizer_state.h"

namespace {
using namespace dinet::train;
using dinet::test::TempDir;

at::Tensor mse_to(const at::Tensor& x, float v) { return torch::mse_loss(x, torch::full_like(x, v)); }

// The published iteration written out naively (train_DINet_frame.py), for comparison.
FrameLosses published_step(dinet::DINet& g, dinet::Discriminator& d, dinet::VGG19& vgg, torch::optim::Adam& opt_g,
                    torch::optim::Adam& opt_d, const FrameBatch& b) {
  const at::Tensor fake = g->forward(b.masked, b.references, b.audio);
  const at::Tensor fake_half = torch::avg_pool2d(fake, 3, 2, 1, false, false);
  const at::Tensor target_half = torch::nn::functional::interpolate(
      b.target, torch::nn::functional::InterpolateFuncOptions()
                    .scale_factor(std::vector<double>{0.5, 0.5})
                    .mode(torch::kBilinear)
                    .align_corners(false));
  opt_d.zero_grad();
  const at::Tensor loss_d = (mse_to(d->forward(fake).score, 0) + mse_to(d->forward(b.target).score, 1)) * 0.5;
  loss_d.backward({}, /*retain_graph=*/true);
  opt_d.step();
  const at::Tensor pred_fake = d->forward(fake).score;
  opt_g.zero_grad();
  const auto real = vgg->forward(b.target), gen = vgg->forward(fake);
  const auto real_h = vgg->forward(target_half), gen_h = vgg->forward(fake_half);
  at::Tensor perception = torch::zeros({});
  for (size_t i = 0; i < real.size(); ++i)
    perception = perception + torch::l1_loss(gen[i], real[i]) + torch::l1_loss(gen_h[i], real_h[i]);
  perception = perception / 10.0 * 10.0;
  const at::Tensor gan = mse_to(pred_fake, 1);
  (perception + gan).backward();
  opt_g.step();
  return {loss_d.item<double>(), gan.item<double>(), perception.item<double>()};
}

template <class Net>
Net copy_of(const Net& net, Net fresh) {
  dinet::load_state_dict(*fresh, dinet::module_state_dict(*net), "copy");
  return fresh;
}

// The first Adam moment holds 0.1 x the gradient of the first step: compare those, as one
// vector per network. Float32 gradients of DINet are ill-conditioned (BatchNorm over 2x2
// maps in the alignment encoder), so two correct orders of summation differ by a percent in
// single entries; a missing or different loss term would turn the whole vector.
void expect_same_gradients(torch::optim::Adam& a, torch::optim::Adam& b, const std::string& what,
                           double min_cosine = 0.9999) {
  const size_t n = a.param_groups()[0].params().size();
  ASSERT_EQ(n, b.param_groups()[0].params().size());
  const dinet::TorchValue sa = adam_state_value(a, 1e-4), sb = adam_state_value(b, 1e-4);
  std::vector<at::Tensor> ga, gb;
  for (size_t i = 0; i < n; ++i) {
    ga.push_back(sa.at("state").at(static_cast<int64_t>(i)).at("exp_avg").as_tensor().flatten());
    gb.push_back(sb.at("state").at(static_cast<int64_t>(i)).at("exp_avg").as_tensor().flatten());
  }
  const at::Tensor va = torch::cat(ga).to(torch::kCPU, torch::kDouble), vb = torch::cat(gb).to(torch::kCPU, torch::kDouble);
  const double cosine = (va * vb).sum().item<double>() / (va.norm() * vb.norm()).item<double>();
  EXPECT_GT(cosine, min_cosine) << what;
  // An error vector at that angle may change the norm by up to sqrt(2 (1 - cosine)).
  EXPECT_NEAR(va.norm().item<double>() / vb.norm().item<double>(), 1.0, std::sqrt(2 * (1 - min_cosine))) << what;
}

TEST(FrameStep, SameGradientsAsThePublishedStep) {
  torch::manual_seed(3);
  dinet::DINet g(3, 15, 29);
  dinet::Discriminator d(3);
  dinet::VGG19 vgg;
  for (auto& p : vgg->parameters()) p.set_requires_grad(false);
  const FrameBatch batch = random_frame_batch(dinet::face_size(64), 2);

  dinet::DINet g2 = copy_of(g, dinet::DINet(3, 15, 29));
  dinet::Discriminator d2 = copy_of(d, dinet::Discriminator(3));
  torch::optim::Adam opt_g(g2->parameters(), torch::optim::AdamOptions(1e-4));
  torch::optim::Adam opt_d(d2->parameters(), torch::optim::AdamOptions(1e-4));
  const FrameLosses published = published_step(g2, d2, vgg, opt_g, opt_d, batch);

  const Compute cpu = resolve_compute("cpu", "fp32", /*channels_last=*/false);
  FrameStep ours(g, d, vgg, cpu, 1e-4, 1e-4, 10.0);
  const FrameLosses losses = ours.step(batch);
  EXPECT_GT(losses.perception, 0);
  EXPECT_NEAR(losses.perception, published.perception, 1e-5 * published.perception);
  EXPECT_NEAR(losses.d, published.d, 1e-6);
  EXPECT_NEAR(losses.g_gan, published.g_gan, 1e-6);
  expect_same_gradients(ours.optimizer_d(), opt_d, "discriminator");
  expect_same_gradients(ours.optimizer_g(), opt_g, "generator");
}

TEST(FrameStep, ChannelsLastTrainsTheSame) {
  torch::manual_seed(4);
  dinet::DINet g(3, 15, 29);
  dinet::Discriminator d(3);
  dinet::VGG19 vgg;
  const FrameBatch batch = random_frame_batch(dinet::face_size(64), 2);
  FrameStep plain(copy_of(g, dinet::DINet(3, 15, 29)), copy_of(d, dinet::Discriminator(3)), vgg,
                  resolve_compute("cpu", "fp32", false), 1e-4, 1e-4, 10.0);
  FrameStep nhwc(g, d, vgg, resolve_compute("cpu", "fp32", true), 1e-4, 1e-4, 10.0);
  const FrameLosses a = plain.step(batch), b = nhwc.step(batch);
  EXPECT_NEAR(a.perception, b.perception, 1e-4 * std::abs(a.perception));
  EXPECT_NEAR(a.d, b.d, 1e-5);
  EXPECT_NEAR(a.g_gan, b.g_gan, 1e-5);
  // Channels-last BatchNorm sums in another order: against float64, PyTorch 1.13's own
  // generator gradients reach cosine 0.99993 contiguous and 0.9988 channels-last.
  expect_same_gradients(nhwc.optimizer_g(), plain.optimizer_g(), "generator", 0.995);
  expect_same_gradients(nhwc.optimizer_d(), plain.optimizer_d(), "discriminator");
}

// On a GPU (skipped without one): the fp32 step gives the CPU step's losses and gradients
// (TF32 off), and the mixed-precision steps (bf16 autocast; fp16 autocast with loss scaling)
// losses close to fp32's. Its fp32 and bf16 checks passed on an H100 (PyTorch 2.11's LibTorch).
TEST(FrameStep, CudaTrainsAsTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  dinet::DINet g(3, 15, 29);
  dinet::Discriminator d(3);
  dinet::VGG19 vgg;
  const FrameBatch batch = random_frame_batch(dinet::face_size(64), 2);
  const auto step_on = [&](const std::string& device, const std::string& precision) {
    return std::make_unique<FrameStep>(copy_of(g, dinet::DINet(3, 15, 29)), copy_of(d, dinet::Discriminator(3)),
                                       copy_of(vgg, dinet::VGG19()), resolve_compute(device, precision, true),
                                       1e-4, 1e-4, 10.0);
  };
  const bool tf32 = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(false);
  auto cpu = step_on("cpu", "fp32"), cuda = step_on("cuda", "fp32");
  const FrameLosses a = cpu->step(batch), b = cuda->step(batch);
  at::globalContext().setAllowTF32CuDNN(tf32);
  EXPECT_NEAR(a.perception, b.perception, 1e-4 * std::abs(a.perception));
  EXPECT_NEAR(a.d, b.d, 1e-5);
  EXPECT_NEAR(a.g_gan, b.g_gan, 1e-5);
  expect_same_gradients(cuda->optimizer_g(), cpu->optimizer_g(), "generator", 0.995);
  expect_same_gradients(cuda->optimizer_d(), cpu->optimizer_d(), "discriminator");
  for (const std::string precision : {"bf16", "fp16"}) {
    const FrameLosses m = step_on("cuda", precision)->step(batch);
    EXPECT_NEAR(m.perception, a.perception, 0.02 * a.perception) << precision;
    EXPECT_NEAR(m.d, a.d, 0.02) << precision;
    // The GAN loss is taken after the discriminator's update, which fp16's loss scaling
    // skips when the first scaled gradients overflow (as PyTorch's GradScaler does).
    if (precision == "bf16") EXPECT_NEAR(m.g_gan, a.g_gan, 0.02) << precision;
  }
}

// Re-estimated statistics are the plain average of the batches' own (unbiased variance, as
// BatchNorm keeps it), whatever was there before; the layers keep their momentum.
TEST(BatchNormStatistics, PlainAverageOfTheBatches) {
  torch::manual_seed(5);
  dinet::blocks::Norm norm(4);
  torch::nn::Sequential network(norm);
  norm->running_mean.fill_(7);
  norm->running_var.fill_(9);
  std::vector<at::Tensor> batches;
  for (int k = 0; k < 3; ++k) batches.push_back(torch::randn({5, 4, 3, 2}) * (k + 1) + k);
  network->train();
  estimate_batchnorm_statistics(*network, 3, [&](int64_t k) {
    torch::NoGradGuard no_grad;
    network->forward(batches[k]);
  });
  at::Tensor mean = torch::zeros({4}), var = torch::zeros({4});
  for (const at::Tensor& x : batches) {
    mean += x.mean({0, 2, 3}) / 3;
    var += x.var({0, 2, 3}, /*unbiased=*/true) / 3;
  }
  EXPECT_TRUE(torch::allclose(norm->running_mean, mean, 1e-5, 1e-6)) << norm->running_mean << mean;
  EXPECT_TRUE(torch::allclose(norm->running_var, var, 1e-5, 1e-6)) << norm->running_var << var;
  EXPECT_DOUBLE_EQ(norm->momentum, 0.1);
}

TEST(Schedule, PublishedLambda) {
  // 1 - max(0, e - niter) / (niter_decay + 1), e = scheduler steps taken.
  EXPECT_DOUBLE_EQ(lr_factor(0, 200, 200), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor(200, 200, 200), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor(201, 200, 200), 1.0 - 1.0 / 201);
  EXPECT_DOUBLE_EQ(lr_factor(400, 200, 200), 1.0 - 200.0 / 201);
}

TEST(Compute, ClearErrors) {
  EXPECT_THROW(resolve_compute("cpu", "fp16", true), dinet::Error);
  EXPECT_THROW(resolve_compute("tpu", "fp32", true), dinet::Error);
  if (!torch::cuda::is_available()) EXPECT_THROW(resolve_compute("cuda", "fp32", true), dinet::Error);
}

TEST(GradScaler, SkipsOverflowAndAdapts) {
  torch::nn::Linear net(3, 1);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(0.1));
  GradScaler scaler(true, 1024.0, 2);
  const at::Tensor before = net->weight.clone();
  (scaler.scale(net->forward(torch::ones({1, 3})).sum()) * std::numeric_limits<float>::infinity()).backward();
  EXPECT_FALSE(scaler.step(adam));
  scaler.update();
  EXPECT_TRUE(torch::equal(before, net->weight));
  EXPECT_EQ(scaler.scale_value(), 512.0);
  for (int i = 0; i < 2; ++i) {
    adam.zero_grad();
    scaler.scale(net->forward(torch::ones({1, 3})).sum()).backward();
    // Unscaled before the step: the gradient of sum(w.x + b) over w is x = 1.
    EXPECT_TRUE(scaler.step(adam));
    EXPECT_TRUE(torch::allclose(net->weight.grad(), torch::ones({1, 3})));
    scaler.update();
  }
  EXPECT_EQ(scaler.scale_value(), 1024.0);  // doubled after 2 clean iterations
  GradScaler off(false);
  EXPECT_TRUE(torch::equal(off.scale(torch::ones({})), torch::ones({})));
}

TEST(OptimizerState, SurvivesSaveAndLoad) {
  TempDir dir;
  torch::manual_seed(5);
  torch::nn::Sequential net(torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Linear(8, 2));
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-2));
  auto train_step = [](torch::nn::Sequential& n, torch::optim::Adam& a) {
    a.zero_grad();
    n->forward(torch::ones({3, 4})).pow(2).sum().backward();
    a.step();
  };
  for (int i = 0; i < 3; ++i) train_step(net, adam);
  dinet::save_torch_file(dir / "adam.pth", adam_state_value(adam, 1e-2));

  torch::nn::Sequential resumed(torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Linear(8, 2));
  dinet::load_state_dict(*resumed, dinet::module_state_dict(*net), "net");
  torch::optim::Adam adam2(resumed->parameters(), torch::optim::AdamOptions(1.0));
  load_adam_state(adam2, dinet::load_torch_file(dir / "adam.pth"), "adam.pth");
  EXPECT_DOUBLE_EQ(adam2.param_groups()[0].options().get_lr(), 1e-2);
  train_step(net, adam);
  train_step(resumed, adam2);
  for (size_t i = 0; i < net->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(net->parameters()[i], resumed->parameters()[i])) << "parameter " << i;

  torch::nn::Sequential other(torch::nn::Linear(4, 8));
  torch::optim::Adam adam3(other->parameters(), torch::optim::AdamOptions(1.0));
  EXPECT_THROW(load_adam_state(adam3, dinet::load_torch_file(dir / "adam.pth"), "adam.pth"), dinet::Error);
}

}  // namespace
