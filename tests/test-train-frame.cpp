// `dinet train frame` as a user runs it, on a tiny prepared set: checkpoints in the
// published layout, logs, pictures, resume that continues exactly, coarse to fine, and the
// checkpoint opened by PyTorch.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <fstream>

#include "dinet/checkpoint.h"
#include "dinet/torch_file.h"
#include "test_support.h"
#include "train_test_data.h"

namespace {
namespace fs = std::filesystem;
using dinet::test::run_dinet;
using dinet::test::TempDir;

// One step per epoch: 1 video x augment 2 / batch 2.
std::string frame_args(const fs::path& json, const fs::path& out, int mouth = 64) {
  return "train frame --train_data " + json.string() + " --result_path " + out.string() +
         " --mouth_region_size " + std::to_string(mouth) +
         " --batch_size 2 --augment_num 2 --checkpoint 1 --vgg_weights random --eval_samples 2"
         " --workers 1 --threads 2 --quiet";
}

int64_t line_count(const fs::path& file, const std::string& needle) {
  std::ifstream in(file);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

TEST(TrainFrame, NeedsVggWeights) {
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 1});
  const auto r = run_dinet("train frame --train_data " + json.string() + " --result_path " + (dir / "out").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--vgg_weights"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("vgg19-dcbb9e9d.pth"), std::string::npos) << r.output;
}

// Resume is bitwise exact: same thread count, same batches (drawn per (seed, epoch, sample)),
// optimizer moments and step counts restored, and --vgg_weights random drawn after the run's
// seed (it once came from LibTorch's default generator, which is seeded at random in every
// process, so the two runs had different perceptual losses: issue 7).
TEST(TrainFrame, TrainsCheckpointsAndResumesExactly) {
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 7});
  const fs::path straight = dir / "straight", resumed = dir / "resumed";
  auto r = run_dinet(frame_args(json, straight) + " --end_epoch 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mouth L1"), std::string::npos) << r.output;
  for (const char* f : {"netG_model_epoch_1.pth", "netG_model_epoch_2.pth", "train_log.jsonl", "samples/epoch_2.png"})
    EXPECT_TRUE(fs::exists(straight / f)) << f;
  EXPECT_EQ(line_count(straight / "train_log.jsonl", "\"event\":\"step\""), 2);
  EXPECT_EQ(line_count(straight / "train_log.jsonl", "\"event\":\"epoch\""), 2);

  // The published layout, with 'module.' keys, plus our metadata.
  const dinet::TorchValue ck = dinet::load_torch_file(straight / "netG_model_epoch_2.pth");
  EXPECT_EQ(ck.at("epoch").as_int(), 3);
  EXPECT_EQ(ck.at("state_dict").at("net_g").entries().size(), 332u);
  EXPECT_EQ(ck.at("state_dict").at("net_g").entries().front().key.as_string(), "module.source_in_conv.0.conv.weight");
  EXPECT_EQ(ck.at("state_dict").at("net_dI").entries().size(), 10u);
  EXPECT_TRUE(ck.at("optimizer").at("net_g").at("state").find(int64_t{0}));
  EXPECT_EQ(ck.at("dinet_meta").at("mouth_region_size").as_int(), 64);
  EXPECT_EQ(ck.at("dinet_meta").at("audio_feature").as_string(), "deepspeech");
  EXPECT_EQ(ck.at("dinet_meta").at("scheduler_steps").as_int(), 2);

  // Stopped after epoch 1 and resumed: the same weights as the run that did not stop.
  r = run_dinet(frame_args(json, resumed) + " --end_epoch 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ofstream(resumed / "netG_model_epoch_7.tmp-999999-0.pth") << "half-written";  // a killed writer's temporary
  r = run_dinet(frame_args(json, resumed) + " --end_epoch 2 --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming from"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(resumed / "netG_model_epoch_7.tmp-999999-0.pth"));
  for (const char* net : {"net_g", "net_dI"}) {
    const auto a = dinet::read_state_dict(straight / "netG_model_epoch_2.pth", {"state_dict", net});
    const auto b = dinet::read_state_dict(resumed / "netG_model_epoch_2.pth", {"state_dict", net});
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(at::equal(a[i].second, b[i].second)) << net << " " << a[i].first;
  }

  // Coarse to fine: a stage starts from the previous stage's generator (the same size here,
  // to stay fast: the weights do not depend on the size). Epoch 1 starts from its weights.
  r = run_dinet(frame_args(json, dir / "fine") + " --end_epoch 1 --coarse2fine --coarse_model_path " +
                (straight / "netG_model_epoch_2.pth").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "fine" / "netG_model_epoch_1.pth"));
  // Resuming a run of another mouth size is refused before any training.
  fs::create_directories(dir / "fine128");
  fs::copy_file(straight / "netG_model_epoch_2.pth", dir / "fine128" / "netG_model_epoch_9.pth");
  r = run_dinet(frame_args(json, dir / "fine128", 128) + " --end_epoch 10 --resume");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("mouth_region_size 64"), std::string::npos) << r.output;
}

// With data held out, each epoch reports the mouth L1 on it and on the trained-on data.
TEST(TrainFrame, EvaluatesHeldOutAndTrainedOn) {
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 24});
  // Fewer than 4 videos: the last quarter of the clips is held out (6, as the stage needs).
  const auto r = run_dinet(frame_args(json, dir / "out") + " --end_epoch 1 --holdout 0.25 --bn_batches 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mouth L1 held out"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trained on"), std::string::npos) << r.output;
  EXPECT_EQ(line_count(dir / "out" / "train_log.jsonl", "\"trained_mouth_l1\""), 1);
}

TEST(TrainFrame, CheckpointOpensInPyTorchWithThePublishedLayout) {
  DINET_REQUIRE_SHARED();
  const std::string python = dinet::test::python_with_torch();
  if (python.empty()) GTEST_SKIP() << "python3-torch is not installed";
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 7});
  auto r = run_dinet(frame_args(json, dir / "out") + " --end_epoch 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto check = dinet::test::check_checkpoint_in_pytorch(python, "frame", dir / "out" / "netG_model_epoch_1.pth");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("OK"), std::string::npos) << check.output;
}

}  // namespace
