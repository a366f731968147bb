// Parity with the published PyTorch networks on ../shared/fixtures/parity64 (random
// deterministic weights, mouth 64, batch 2): every output and intermediate the fixtures
// hold, within 1e-4 absolute in float32.
#include <torch/torch.h>

#include "dinet/checkpoint.h"
#include "dinet/networks.h"
#include "dinet/npy.h"
#include "test_support.h"

namespace {

constexpr double kTolerance = 1e-4;

std::filesystem::path fixture(const std::string& name) {
  return dinet::test::shared_dir() / "fixtures" / "parity64" / name;
}

at::Tensor load(const std::string& name) {
  return dinet::read_npy(fixture(name + ".npy")).to(at::kFloat);
}

void expect_close(const at::Tensor& actual, const std::string& name) {
  const at::Tensor expected = load(name);
  ASSERT_EQ(actual.sizes(), expected.sizes()) << name;
  const double diff = (actual - expected).abs().max().item<double>();
  EXPECT_LT(diff, kTolerance) << name;
  std::printf("  %-32s max abs diff %.3g\n", name.c_str(), diff);
}

std::vector<std::string> keys(const dinet::StateDict& state) {
  std::vector<std::string> names;
  for (const auto& kv : state) names.push_back(kv.first);
  return names;
}

TEST(Parity, StateDictKeysInPublishedOrder) {
  DINET_REQUIRE_SHARED();
  const auto published = dinet::read_state_dict(fixture("dinet.pth"), {"state_dict", "net_g"});
  EXPECT_EQ(keys(dinet::module_state_dict(*dinet::DINet())), keys(published));
  const auto syncnet = dinet::read_state_dict(fixture("syncnet.pth"), {"state_dict", "net"});
  EXPECT_EQ(keys(dinet::module_state_dict(*dinet::SyncNet())), keys(syncnet));
  const auto disc = dinet::read_state_dict(fixture("discriminator.pth"), {"state_dict", "net_dI"});
  EXPECT_EQ(keys(dinet::module_state_dict(*dinet::Discriminator(3))), keys(disc));
}

TEST(Parity, DINetEvalModeEveryIntermediate) {
  DINET_REQUIRE_SHARED();
  torch::NoGradGuard no_grad;
  dinet::DINet net = dinet::load_dinet(fixture("dinet.pth"));
  net->eval();
  const auto trace =
      net->trace(load("dinet_source"), load("dinet_reference"), load("dinet_audio"));
  expect_close(trace.source_feature, "dinet_eval_source_feature");
  expect_close(trace.ref_feature, "dinet_eval_ref_feature");
  expect_close(trace.img_para, "dinet_eval_img_para");
  expect_close(trace.audio_para, "dinet_eval_audio_para");
  expect_close(trace.ref_appearance0, "dinet_eval_ref_appearance0");
  expect_close(trace.adaat_out, "dinet_eval_adaat_out");
  expect_close(trace.output, "dinet_out_eval");
}

TEST(Parity, DINetEvalModeWithCachedReference) {
  DINET_REQUIRE_SHARED();
  torch::NoGradGuard no_grad;
  dinet::DINet net = dinet::load_dinet(fixture("dinet.pth"));
  net->eval();
  const auto reference = net->encode_reference(load("dinet_reference"));
  expect_close(net->forward_with_reference(load("dinet_source"), reference, load("dinet_audio")),
               "dinet_out_eval");
}

TEST(Parity, DINetTrainModeUsesBatchStatistics) {
  DINET_REQUIRE_SHARED();
  dinet::DINet net = dinet::load_dinet(fixture("dinet.pth"));
  net->train();
  const auto out = net->forward(load("dinet_source"), load("dinet_reference"), load("dinet_audio"));
  EXPECT_TRUE(out.requires_grad());
  expect_close(out.detach(), "dinet_out_train");
}

TEST(Parity, SyncNetScoreMap) {
  DINET_REQUIRE_SHARED();
  torch::NoGradGuard no_grad;
  dinet::SyncNet net = dinet::load_syncnet(fixture("syncnet.pth"));
  net->eval();
  expect_close(net->forward(load("syncnet_image"), load("syncnet_audio")), "syncnet_out");
}

TEST(Parity, DiscriminatorFeaturesAndScore) {
  DINET_REQUIRE_SHARED();
  torch::NoGradGuard no_grad;
  dinet::Discriminator net = dinet::load_discriminator(fixture("discriminator.pth"));
  const auto out = net->forward(load("disc_input"));
  ASSERT_EQ(out.features.size(), 4u);
  for (size_t i = 0; i < 4; ++i) expect_close(out.features[i], "disc_feature" + std::to_string(i));
  expect_close(out.score, "disc_out");
}

}  // namespace
