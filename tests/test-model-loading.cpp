// Networks built from checkpoint files: channel counts come from the stored weights, the
// published layouts and bare state dicts both load, torchvision's VGG19 file loads without
// its classifier.
#include <torch/torch.h>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/networks.h"
#include "test_support.h"

namespace {

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(Loading, DINetTakesAudioChannelsFromTheCheckpoint) {
  torch::NoGradGuard no_grad;
  dinet::test::TempDir dir;
  dinet::DINet saved(3, 15, 80);
  saved->eval();
  const auto file = dir / "generator.pth";
  dinet::save_torch_file(file, dinet::published_generator_checkpoint(
                                   7, {{"net_g", dinet::module_state_dict(*saved)}}));
  dinet::DINet loaded = dinet::load_dinet(file);
  loaded->eval();
  EXPECT_EQ(loaded->audio_channel(), 80);
  const auto source = torch::rand({1, 3, 104, 80}), refs = torch::rand({1, 15, 104, 80});
  const auto audio = torch::randn({1, 80, 5});
  EXPECT_EQ(max_diff(loaded->forward(source, refs, audio), saved->forward(source, refs, audio)), 0);
}

TEST(Loading, BareStateDictsLoadToo) {
  dinet::test::TempDir dir;
  const auto syncnet_file = dir / "syncnet_bare.pth";
  dinet::save_torch_file(syncnet_file,
                         dinet::state_dict_value(dinet::module_state_dict(*dinet::SyncNet(15, 40))));
  EXPECT_EQ(dinet::load_syncnet(syncnet_file)->audio_channel(), 40);
  const auto disc_file = dir / "clip_disc.pth";
  dinet::save_torch_file(disc_file,
                         dinet::state_dict_value(dinet::module_state_dict(*dinet::Discriminator(15))));
  EXPECT_EQ(dinet::load_discriminator(disc_file)->in_channels(), 15);
}

TEST(Loading, DiscriminatorPicksFramesOrClips) {
  dinet::test::TempDir dir;
  const auto file = dir / "generator.pth";
  dinet::save_torch_file(
      file, dinet::published_generator_checkpoint(
                1, {{"net_g", dinet::module_state_dict(*dinet::DINet())},
                    {"net_dI", dinet::module_state_dict(*dinet::Discriminator(3))},
                    {"net_dV", dinet::module_state_dict(*dinet::Discriminator(15))}}));
  EXPECT_EQ(dinet::load_discriminator(file)->in_channels(), 3);
  EXPECT_EQ(dinet::load_discriminator(file, /*prefer_clip=*/true)->in_channels(), 15);
}

TEST(Loading, WrongNetworkNamesFileAndKey) {
  dinet::test::TempDir dir;
  const auto file = dir / "syncnet.pth";
  dinet::save_torch_file(file,
                         dinet::published_syncnet_checkpoint(dinet::module_state_dict(*dinet::SyncNet())));
  try {
    dinet::load_dinet(file);
    FAIL() << "a SyncNet checkpoint loaded as DINet";
  } catch (const dinet::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_NE(message.find("net_g"), std::string::npos) << message;
  }
}

TEST(Loading, VGG19IgnoresTheClassifier) {
  torch::NoGradGuard no_grad;
  dinet::test::TempDir dir;
  dinet::VGG19 saved;
  dinet::StateDict state = dinet::module_state_dict(*saved);
  state.emplace_back("classifier.0.weight", torch::randn({8, 4}));
  state.emplace_back("classifier.0.bias", torch::randn({8}));
  const auto file = dir / "vgg19.pth";
  dinet::save_torch_file(file, dinet::state_dict_value(state));
  dinet::VGG19 loaded = dinet::load_vgg19(file);
  const auto rgb = torch::rand({1, 3, 32, 32});
  const auto expected = saved->forward(rgb), actual = loaded->forward(rgb);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(max_diff(actual[i], expected[i]), 0) << i;
}

}  // namespace
