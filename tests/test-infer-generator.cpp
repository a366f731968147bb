// The inference generator (folded BatchNorm, sub-pixel upsampling, cached reference branch)
// against the published-structure DINet module it is built from.
#include <torch/torch.h>

#include <cmath>

#include "dinet/cpu.h"
#include "dinet/error.h"
#include "dinet/networks.h"
#include "dinet/npy.h"
#include "dinet/runtime.h"
#include "infer/alignment.h"
#include "infer/generator.h"
#include "infer/int8.h"
#include "test_support.h"

namespace dinet {
namespace {

// Random BatchNorm statistics, so that folding them is really tested.
DINet random_model(int64_t audio_channel, uint64_t seed) {
  torch::manual_seed(seed);
  DINet net(3, 15, audio_channel);
  torch::NoGradGuard no_grad;
  for (auto& buffer : net->named_buffers()) {
    if (buffer.key().find("running_mean") != std::string::npos) buffer.value().normal_(0, 0.1);
    if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.5, 1.5);
  }
  for (auto& p : net->named_parameters())
    if (p.key().find("norm") != std::string::npos && p.key().find("weight") != std::string::npos)
      p.value().uniform_(0.5, 1.5);
  net->eval();
  return net;
}

struct Inputs {
  at::Tensor source, references, audio;
};

Inputs random_inputs(int64_t batch, int64_t mouth, int64_t audio_channel) {
  const int64_t r = mouth / 2, q = r / 4;
  torch::manual_seed(7);
  return {torch::rand({batch, 3, 3 * r + q, 2 * r + 2 * q}), torch::rand({1, 15, 3 * r + q, 2 * r + 2 * q}),
          torch::randn({batch, audio_channel, 5})};
}

double psnr(const at::Tensor& a, const at::Tensor& b) {
  const double mse = (a - b).pow(2).mean().item<double>();
  return 10 * std::log10(1.0 / std::max(mse, 1e-20));
}

at::Tensor reference_output(DINet& net, const Inputs& in) {
  torch::NoGradGuard no_grad;
  return net->forward(in.source, in.references.expand({in.source.size(0), -1, -1, -1}), in.audio);
}

TEST(InferGenerator, MatchesTheModuleInFp32) {
  DINet net = random_model(29, 1);
  const Inputs in = random_inputs(3, 64, 29);
  const at::Tensor expected = reference_output(net, in);
  infer::Generator generator(net, "cpu", Precision::fp32);
  generator.set_reference(in.references);
  const at::Tensor got = generator.forward(in.source, in.audio);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_LT((got - expected).abs().max().item<double>(), 1e-4);
}

// The CPU's one-pass warp and the grid-sampler path both against the published AdaAT
// (a 5-D grid_sample), with codes large enough to rotate by up to pi and shift samples
// outside the map, where zeros come in.
TEST(InferGenerator, AdaptiveWarpMatchesAdaAT) {
  DINet net = random_model(29, 4);
  torch::manual_seed(11);
  const at::Tensor appearance = torch::randn({1, 256, 13, 10});
  const at::Tensor code = torch::randn({3, 256}) * 3;
  auto adaat = std::dynamic_pointer_cast<AdaATImpl>(net->named_children()["adaAT"]);
  ASSERT_TRUE(adaat);
  torch::NoGradGuard no_grad;
  const at::Tensor expected = adaat->forward(appearance.expand({3, -1, -1, -1}), code);
  infer::AdaptiveWarp warp(*net);
  warp.set_reference(appearance);
  for (const at::Tensor& got : {warp(code), warp.with_grid_sampler(code)}) {
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5);
  }
  EXPECT_GT((expected == 0).sum().item<int64_t>(), 0) << "no sample fell outside the map";
}

TEST(InferGenerator, MatchesThePublishedFixture) {
  DINET_REQUIRE_SHARED();
  const auto dir = test::shared_dir() / "fixtures" / "parity64";
  // The fixture's batch has its own references per sample; the generator shares one.
  for (int64_t k = 0; k < 2; ++k) {
    const auto sample = [&](const char* name) { return read_npy(dir / name).narrow(0, k, 1); };
    infer::Generator generator(load_dinet(dir / "dinet.pth"), "cpu", Precision::fp32);
    generator.set_reference(sample("dinet_reference.npy"));
    const at::Tensor got = generator.forward(sample("dinet_source.npy"), sample("dinet_audio.npy"));
    EXPECT_LT((got - sample("dinet_out_eval.npy")).abs().max().item<double>(), 1e-4);
  }
}

TEST(InferGenerator, Bf16StaysWithin40dBOfFp32) {
  if (!cpu_has_native_bf16()) GTEST_SKIP() << "this CPU has no native bf16";
  DINet net = random_model(29, 2);
  const Inputs in = random_inputs(2, 64, 29);
  infer::Generator fp32(net, "cpu", Precision::fp32), bf16(net, "cpu", Precision::bf16);
  fp32.set_reference(in.references);
  bf16.set_reference(in.references);
  EXPECT_GT(psnr(bf16.forward(in.source, in.audio), fp32.forward(in.source, in.audio)), 40.0);
}

// int8: the first call after set_reference records the activation ranges (and runs in the
// carrier precision); later calls, on other faces, run the int8 convolutions.
TEST(InferGenerator, Int8StaysWithin40dBOfFp32) {
  if (!infer::int8_available()) GTEST_SKIP() << "this LibTorch has no oneDNN quantized engine";
  DINet net = random_model(29, 2);
  const Inputs calibration = random_inputs(2, 64, 29);
  infer::Generator fp32(net, "cpu", Precision::fp32), int8(net, "cpu", Precision::int8);
  fp32.set_reference(calibration.references);
  int8.set_reference(calibration.references);
  int8.forward(calibration.source, calibration.audio);
  torch::manual_seed(11);
  const at::Tensor source = torch::rand_like(calibration.source), audio = torch::randn_like(calibration.audio);
  const at::Tensor expected = fp32.forward(source, audio), got = int8.forward(source, audio);
  EXPECT_GT(psnr(got, expected), 40.0);
}

// The int8 ResBlock against the float one it is made from, on inputs a little past the
// recorded range too; far past it, it saturates until record_next widens the ranges.
TEST(InferGenerator, Int8ResBlockFollowsTheFloatBlock) {
  if (!infer::int8_available()) GTEST_SKIP() << "this LibTorch has no oneDNN quantized engine";
  DINet net = random_model(29, 5);
  const infer::ResBlock block = infer::res_block(*net, "appearance_conv_list.1.0", {});
  infer::QuantizedResBlock quantized(block);
  torch::manual_seed(3);
  const at::Tensor x = infer::channels_last(torch::randn({2, 256, 12, 10}));
  const at::Tensor recorded = quantized(x);  // recording: the float block itself
  EXPECT_LT((recorded - block(x)).abs().max().item<double>(), 1e-5);
  const auto relative_error = [&](const at::Tensor& y) {  // relative to the block's own change of y
    const at::Tensor expected = block(y);
    return ((quantized(y) - expected).pow(2).mean() / (expected - y).pow(2).mean()).sqrt().item<double>();
  };
  for (double gain : {1.0, 1.3})
    EXPECT_LT(relative_error(infer::channels_last(x * gain + 0.05 * torch::randn_like(x))), 0.03) << "gain " << gain;
  const at::Tensor louder = infer::channels_last(x * 4);
  EXPECT_GT(relative_error(louder), 0.1);
  quantized.record_next();
  quantized(louder);
  EXPECT_LT(relative_error(louder), 0.03);
}

// The int8 conv -> ReLU chain (11x11, 11x11, then a stride-2 layer of the alignment encoder)
// against the float layers.
TEST(InferGenerator, Int8ChainFollowsTheFloatLayers) {
  if (!infer::int8_available()) GTEST_SKIP() << "this LibTorch has no oneDNN quantized engine";
  DINet net = random_model(29, 6);
  std::vector<infer::ConvRelu> layers;
  for (const char* name : {"trans_conv.1", "trans_conv.2", "trans_conv.3"})
    layers.push_back({infer::folded_conv(*net, name, {})});
  infer::QuantizedConvReluChain chain(layers);
  const auto float_chain = [&](at::Tensor x) {
    for (const infer::ConvRelu& layer : layers) x = layer(x);
    return x;
  };
  torch::manual_seed(4);
  const at::Tensor x = infer::channels_last(torch::rand({2, 128, 24, 20}));
  EXPECT_LT((chain(x) - float_chain(x)).abs().max().item<double>(), 1e-5);  // recording: the float layers
  const at::Tensor y = infer::channels_last(torch::rand({2, 128, 24, 20}));
  const at::Tensor expected = float_chain(y), got = chain(y);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_LT(((got - expected).pow(2).mean() / expected.pow(2).mean()).sqrt().item<double>(), 0.02);  // 0.011 here
}

// The decoder's pieces: a chain on an input of either sign, and the UpBlock whose four phases
// are dequantized into the space-to-depth layout.
TEST(InferGenerator, Int8DecoderPiecesFollowTheFloatLayers) {
  if (!infer::int8_available()) GTEST_SKIP() << "this LibTorch has no oneDNN quantized engine";
  DINet net = random_model(29, 8);
  const infer::ConvRelu first{infer::folded_conv(*net, "out_conv.0", {})};
  infer::QuantizedConvReluChain chain({first});
  const infer::UpBlock up = infer::up_block(*net, "out_conv.3", {});
  infer::QuantizedUpBlock quantized_up(up);
  const auto relative = [](const at::Tensor& got, const at::Tensor& expected) {
    EXPECT_EQ(got.sizes(), expected.sizes());
    return ((got - expected).pow(2).mean() / expected.pow(2).mean()).sqrt().item<double>();
  };
  torch::manual_seed(9);
  const auto signed_input = [](int64_t channels) {
    return infer::channels_last(torch::randn({2, channels, 12, 10}));
  };
  const at::Tensor calibration = signed_input(512), x = signed_input(512);
  EXPECT_LT((chain(calibration) - first(calibration)).abs().max().item<double>(), 1e-5);
  EXPECT_LT(relative(chain(x), first(x)), 0.03);
  const at::Tensor up_calibration = signed_input(128), y = signed_input(128);
  EXPECT_LT((quantized_up.space_to_depth(up_calibration) - up.space_to_depth(up_calibration)).abs().max().item<double>(),
            1e-5);
  EXPECT_LT(relative(quantized_up.space_to_depth(y), up.space_to_depth(y)), 0.03);
}

// On a GPU (skipped without one): fp32 gives the CPU module's output, fp16 and bf16 stay
// within 40 dB of it. TF32 is off for the fp32 comparison: it is a reduced precision too.
TEST(InferGenerator, CudaMatchesTheModule) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  DINet net = random_model(29, 4);
  const Inputs in = random_inputs(2, 128, 29);
  const at::Tensor expected = reference_output(net, in);
  const bool tf32 = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(false);
  for (Precision precision : {Precision::fp32, Precision::fp16, Precision::bf16}) {
    infer::Generator generator(net, "cuda", precision);
    generator.set_reference(in.references);
    const at::Tensor got = generator.forward(in.source, in.audio);
    ASSERT_EQ(got.device().type(), at::kCPU);
    if (precision == Precision::fp32)
      EXPECT_LT((got - expected).abs().max().item<double>(), 1e-3);
    else
      EXPECT_GT(psnr(got, expected), 40.0) << to_string(precision);
  }
  at::globalContext().setAllowTF32CuDNN(tf32);
}

TEST(InferGenerator, RefusesWhatWouldNotRunNatively) {
  DINet net = random_model(29, 3);
  EXPECT_THROW(infer::Generator(net, "cpu", Precision::fp16), Error);
  if (!torch::cuda::is_available()) EXPECT_THROW(infer::Generator(net, "cuda", Precision::fp32), Error);
  if (!cpu_has_native_bf16()) EXPECT_THROW(infer::Generator(net, "cpu", Precision::bf16), Error);
  EXPECT_THROW(infer::Generator(net, "cuda", Precision::int8), Error);
}

}  // namespace
}  // namespace dinet
