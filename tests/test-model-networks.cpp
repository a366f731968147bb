// The networks' structure: published state-dict names and shapes, sizes, output shapes at
// every mouth size, and the reference cache agreeing with the plain forward.
#include <torch/torch.h>

#include <map>

#include "dinet/networks.h"
#include "test_support.h"

namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

Shapes state_shapes(const torch::nn::Module& module) {
  Shapes shapes;
  for (const auto& p : module.named_parameters()) shapes[p.key()] = p.value().sizes().vec();
  for (const auto& b : module.named_buffers()) shapes[b.key()] = b.value().sizes().vec();
  return shapes;
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

void expect_keys(const Shapes& shapes, const Shapes& expected) {
  for (const auto& [key, shape] : expected) {
    auto it = shapes.find(key);
    ASSERT_NE(it, shapes.end()) << "missing " << key;
    EXPECT_EQ(it->second, shape) << key;
  }
}

TEST(Networks, DINetStateDictMatchesPublishedNames) {
  dinet::DINet net;
  const Shapes shapes = state_shapes(*net);
  EXPECT_EQ(shapes.size(), 332u);
  EXPECT_EQ(parameter_count(*net), 19190275);  // "19.19 M"
  expect_keys(shapes, {
      {"source_in_conv.0.conv.weight", {64, 3, 7, 7}},
      {"source_in_conv.2.norm.num_batches_tracked", {}},
      {"ref_in_conv.0.conv.weight", {64, 15, 7, 7}},
      {"trans_conv.0.conv.weight", {128, 512, 3, 3}},
      {"trans_conv.2.conv.weight", {128, 128, 11, 11}},
      {"trans_conv.10.norm.running_var", {128}},
      {"audio_encoder.0.conv.weight", {128, 29, 5}},
      {"audio_encoder.1.norm1.running_mean", {128}},
      {"audio_encoder.3.conv2.bias", {128}},
      {"audio_encoder.5.conv.weight", {128, 128, 3}},
      {"appearance_conv_list.0.2.conv1.weight", {256, 256, 3, 3}},
      {"appearance_conv_list.1.3.norm2.weight", {256}},
      {"adaAT.commn_linear.0.weight", {256, 256}},
      {"adaAT.scale.0.bias", {256}},
      {"adaAT.rotation.0.weight", {256, 256}},
      {"adaAT.translation.0.weight", {512, 256}},
      {"out_conv.1.conv.weight", {128, 128, 3, 3}},
      {"out_conv.2.norm1.running_var", {128}},
      {"out_conv.4.weight", {3, 128, 7, 7}},
  });
  // Same-width residual blocks have no channel_conv, as in the published code.
  EXPECT_EQ(shapes.count("appearance_conv_list.0.2.channel_conv.weight"), 0u);
}

TEST(Networks, DINetAudioChannelIsAConstructorArgument) {
  dinet::DINet net(3, 15, 80);
  EXPECT_EQ(net->audio_channel(), 80);
  EXPECT_EQ(state_shapes(*net).at("audio_encoder.0.conv.weight"),
            (std::vector<int64_t>{128, 80, 5}));
}

TEST(Networks, MouthRegionForFace) {
  EXPECT_EQ(dinet::DINet::Impl::mouth_region_for_face(104, 80), 64);
  EXPECT_EQ(dinet::DINet::Impl::mouth_region_for_face(208, 160), 128);
  EXPECT_EQ(dinet::DINet::Impl::mouth_region_for_face(416, 320), 256);
  EXPECT_EQ(dinet::DINet::Impl::mouth_region_for_face(104, 81), 0);
  EXPECT_EQ(dinet::DINet::Impl::mouth_region_for_face(100, 80), 0);
  EXPECT_EQ(dinet::DINet::Impl::mouth_region_for_face(0, 0), 0);
}

// Output shape at every published mouth size; the 256 one is the expensive one, so batch 1.
void expect_dinet_shape(int64_t height, int64_t width, int64_t batch) {
  torch::NoGradGuard no_grad;
  dinet::DINet net;
  net->eval();
  const auto out = net->forward(torch::rand({batch, 3, height, width}),
                                torch::rand({batch, 15, height, width}), torch::randn({batch, 29, 5}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{batch, 3, height, width}));
  EXPECT_GT(out.min().item<float>(), 0.0f);
  EXPECT_LT(out.max().item<float>(), 1.0f);
}

TEST(Networks, DINetOutputShapeMouth64) { expect_dinet_shape(104, 80, 2); }
TEST(Networks, DINetOutputShapeMouth128) { expect_dinet_shape(208, 160, 1); }
TEST(Networks, DINetOutputShapeMouth256) { expect_dinet_shape(416, 320, 1); }

TEST(Networks, CachedReferenceEqualsPlainForward) {
  torch::manual_seed(1);
  torch::NoGradGuard no_grad;
  dinet::DINet net;
  net->eval();
  const auto source = torch::rand({3, 3, 104, 80});
  const auto reference = torch::rand({1, 15, 104, 80});
  const auto audio = torch::randn({3, 29, 5});
  const auto cached = net->encode_reference(reference);
  const auto shared = net->forward_with_reference(source, cached, audio);
  const auto plain = net->forward(source, reference.expand({3, -1, -1, -1}), audio);
  EXPECT_LT((shared - plain).abs().max().item<float>(), 1e-5);
  EXPECT_THROW(net->forward_with_reference(source.slice(0, 0, 2), net->encode_reference(
                   reference.expand({3, -1, -1, -1})), audio.slice(0, 0, 2)), c10::Error);
}

// bf16 runs end to end (AdaAT samples in float32, which the CPU grid sampler needs) and
// stays near the float32 result.
TEST(Networks, DINetRunsInBFloat16) {
  torch::manual_seed(2);
  torch::NoGradGuard no_grad;
  dinet::DINet net;
  net->eval();
  const auto source = torch::rand({1, 3, 104, 80}), refs = torch::rand({1, 15, 104, 80});
  const auto audio = torch::randn({1, 29, 5});
  const auto full = net->forward(source, refs, audio);
  net->to(torch::kBFloat16);
  const auto half = net->forward(source.to(torch::kBFloat16), refs.to(torch::kBFloat16),
                                 audio.to(torch::kBFloat16));
  EXPECT_EQ(half.scalar_type(), torch::kBFloat16);
  const auto diff = (half.to(torch::kFloat) - full).abs();
  EXPECT_LT(diff.mean().item<float>(), 0.01);
  EXPECT_LT(diff.max().item<float>(), 0.05);
}

TEST(Networks, SyncNetStateDictAndScoreMap) {
  torch::NoGradGuard no_grad;
  dinet::SyncNet net;
  const Shapes shapes = state_shapes(*net);
  EXPECT_EQ(shapes.size(), 68u);
  expect_keys(shapes, {
      {"face_encoder.face_conv.0.conv.weight", {64, 15, 7, 7}},
      {"face_encoder.face_conv.1.conv2.weight", {64, 64, 3, 3}},
      {"face_encoder.face_conv.15.conv.weight", {128, 128, 1, 1}},
      {"audio_encoder.audio_conv.0.conv.weight", {128, 29, 7}},
      {"audio_encoder.audio_conv.6.conv.weight", {128, 128, 3}},
      {"audio_encoder.audio_conv.7.conv.bias", {128}},
      {"merge_encoder.0.weight", {128, 256, 3, 3}},
      {"merge_encoder.2.weight", {1, 128, 3, 3}},
  });
  EXPECT_EQ(net->forward(torch::rand({2, 15, 64, 64}), torch::randn({2, 29, 9})).sizes(),
            (std::vector<int64_t>{2, 1, 2, 2}));
  EXPECT_EQ(net->forward(torch::rand({1, 15, 256, 256}), torch::randn({1, 29, 9})).sizes(),
            (std::vector<int64_t>{1, 1, 8, 8}));
}

// The data-dependent init: every conv's output standardised over the batch, so the last one,
// the score map, has zero mean and unit variance too; the network still works after it.
TEST(Networks, SyncNetStandardiseActivations) {
  torch::manual_seed(3);
  dinet::SyncNet net;
  const at::Tensor mouths = torch::rand({16, 15, 64, 64}), audio = torch::randn({16, 29, 9});
  net->standardise_activations(mouths, audio);
  torch::NoGradGuard no_grad;
  const at::Tensor score = net->forward(mouths, audio);
  EXPECT_NEAR(score.mean().item<double>(), 0.0, 1e-3);
  EXPECT_NEAR(score.std().item<double>(), 1.0, 1e-2);
  const at::Tensor mouth = net->embed_mouths(mouths);  // ReLU of a standardised conv
  EXPECT_GT(mouth.std({0}).mean().item<double>(), 0.3);
  EXPECT_TRUE(net->parameters()[0].requires_grad());
}

TEST(Networks, DiscriminatorBlocks) {
  torch::NoGradGuard no_grad;
  for (int64_t channels : {3, 15}) {
    dinet::Discriminator net(channels);
    const Shapes shapes = state_shapes(*net);
    EXPECT_EQ(shapes.size(), 10u);
    expect_keys(shapes, {{"down_blocks.0.conv.weight", {128, channels, 4, 4}},
                         {"down_blocks.1.conv.weight", {256, 128, 4, 4}},
                         {"down_blocks.3.conv.weight", {256, 256, 4, 4}},
                         {"conv.weight", {1, 256, 1, 1}}});
    const auto out = net->forward(torch::rand({2, channels, 104, 80}));
    ASSERT_EQ(out.features.size(), 4u);
    EXPECT_EQ(out.features[0].sizes(), (std::vector<int64_t>{2, 128, 50, 38}));
    EXPECT_EQ(out.features[1].sizes(), (std::vector<int64_t>{2, 256, 23, 17}));
    EXPECT_EQ(out.features[2].sizes(), (std::vector<int64_t>{2, 256, 10, 7}));
    EXPECT_EQ(out.features[3].sizes(), (std::vector<int64_t>{2, 256, 7, 4}));
    EXPECT_EQ(out.score.sizes(), (std::vector<int64_t>{2, 1, 7, 4}));
  }
}

TEST(Networks, VGG19TorchvisionLayout) {
  torch::NoGradGuard no_grad;
  dinet::VGG19 net;
  const Shapes shapes = state_shapes(*net);
  EXPECT_EQ(shapes.size(), 26u);  // 13 convolutions up to relu5_1
  expect_keys(shapes, {{"features.0.weight", {64, 3, 3, 3}},
                       {"features.5.weight", {128, 64, 3, 3}},
                       {"features.10.weight", {256, 128, 3, 3}},
                       {"features.19.weight", {512, 256, 3, 3}},
                       {"features.28.weight", {512, 512, 3, 3}},
                       {"features.28.bias", {512}}});
  const auto outputs = net->forward(torch::rand({1, 3, 64, 64}));
  ASSERT_EQ(outputs.size(), 5u);
  const std::vector<std::vector<int64_t>> expected = {
      {1, 64, 64, 64}, {1, 128, 32, 32}, {1, 256, 16, 16}, {1, 512, 8, 8}, {1, 512, 4, 4}};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(outputs[i].sizes(), expected[i]) << "slice " << i;
}

}  // namespace
