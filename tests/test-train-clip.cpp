// `dinet train clip` as a user runs it, on a tiny prepared set: it starts from a frame-stage
// generator and a SyncNet (random networks saved as the trainers and the published code
// save them), writes checkpoints in the published clip layout (net_g, net_dI, net_dV) that
// PyTorch opens, logs and pictures, resumes, and refuses starting points that do not fit.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdio>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "dinet/checkpoint.h"
#include "dinet/networks.h"
#include "dinet/torch_file.h"
#include "test_support.h"
#include "train_test_data.h"

namespace {
namespace fs = std::filesystem;
using dinet::TorchValue;
using dinet::test::run_dinet;
using dinet::test::TempDir;

TorchValue meta(const std::string& trainer, int64_t mouth) {
  TorchValue v = TorchValue::dict();
  v.set("trainer", trainer);
  v.set("mouth_region_size", mouth);
  v.set("audio_feature", "deepspeech");
  v.set("audio_channel", int64_t{29});
  v.set("epoch", int64_t{4});
  v.set("scheduler_steps", int64_t{4});
  v.set("seed", int64_t{1});
  v.set("grad_scale", 0.0);
  v.set("grad_growth_tracker", int64_t{0});
  return v;
}

// A random generator as `dinet train frame` saves it (with dinet_meta when `trainer` is
// set) or as the published trainer does (without).
fs::path write_generator(const fs::path& file, const std::string& trainer = "frame", int64_t mouth = 64) {
  TorchValue ck = dinet::published_generator_checkpoint(
      5, {{"net_g", dinet::module_state_dict(*dinet::DINet(3, 15, 29))},
          {"net_dI", dinet::module_state_dict(*dinet::Discriminator(3))}});
  if (!trainer.empty()) ck.set("dinet_meta", meta(trainer, mouth));
  dinet::save_torch_file(file, ck);
  return file;
}

// A random SyncNet in the published layout {'state_dict': {'net'}}, with our dinet_meta
// when `trainer` is set.
fs::path write_syncnet(const fs::path& file, const std::string& trainer = "", int64_t mouth = 64) {
  TorchValue ck = dinet::published_syncnet_checkpoint(dinet::module_state_dict(*dinet::SyncNet(15, 29, 128)));
  if (!trainer.empty()) ck.set("dinet_meta", meta(trainer, mouth));
  dinet::save_torch_file(file, ck);
  return file;
}

struct ClipSetup {
  fs::path json, generator, syncnet;
};

ClipSetup clip_setup(const TempDir& dir) {
  return {dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 5}),
          write_generator(dir / "frame_epoch_4.pth"), write_syncnet(dir / "syncnet_64mouth.pth")};
}

// One step per epoch: 1 video x augment 1 / batch 1 clip (5 generated frames).
std::string clip_args(const ClipSetup& s, const fs::path& out, const fs::path& generator = {},
                      const fs::path& syncnet = {}, int batch = 1, int augment = 1, int threads = 2,
                      int checkpoint = 1) {
  return "train clip --train_data " + s.json.string() + " --result_path " + out.string() +
         " --pretrained_frame_DINet_path " + (generator.empty() ? s.generator : generator).string() +
         " --pretrained_syncnet_path " + (syncnet.empty() ? s.syncnet : syncnet).string() +
         " --mouth_region_size 64 --batch_size " + std::to_string(batch) + " --augment_num " +
         std::to_string(augment) + " --threads " + std::to_string(threads) +
         " --checkpoint " + std::to_string(checkpoint) + " --vgg_weights random --eval_samples 1 --workers 1 --quiet";
}

std::vector<nlohmann::json> log_records(const fs::path& file) {
  std::vector<nlohmann::json> records;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

int64_t line_count(const fs::path& file, const std::string& needle) {
  std::ifstream in(file);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

TEST(TrainClip, TrainsFromFrameStageWritesPublishedLayoutAndResumesExactly) {
  TempDir dir;
  const ClipSetup s = clip_setup(dir);
  const fs::path out = dir / "out";
  auto r = run_dinet(clip_args(s, out) + " --end_epoch 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("SyncNet score generated"), std::string::npos) << r.output;
  // The published SyncNet file has no dinet_meta, but its name gives its mouth size.
  EXPECT_EQ(r.output.find("not checked"), std::string::npos) << r.output;
  for (const char* f : {"netG_model_epoch_1.pth", "train_log.jsonl", "samples/epoch_1.png"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_EQ(line_count(out / "train_log.jsonl", "\"event\":\"step\""), 1);
  EXPECT_EQ(line_count(out / "train_log.jsonl", "\"loss_sync\""), 2);  // the step and the epoch

  const TorchValue ck = dinet::load_torch_file(out / "netG_model_epoch_1.pth");
  EXPECT_EQ(ck.at("epoch").as_int(), 2);
  EXPECT_EQ(ck.at("state_dict").at("net_g").entries().size(), 332u);
  EXPECT_EQ(ck.at("state_dict").at("net_g").entries().front().key.as_string(), "module.source_in_conv.0.conv.weight");
  EXPECT_EQ(ck.at("state_dict").at("net_dI").entries().size(), 10u);
  EXPECT_EQ(ck.at("state_dict").at("net_dV").entries().size(), 10u);
  EXPECT_EQ(ck.at("state_dict").at("net_dV").at("module.down_blocks.0.conv.weight").as_tensor().size(1), 15);
  EXPECT_EQ(ck.at("state_dict").at("net_dI").at("module.down_blocks.0.conv.weight").as_tensor().size(1), 3);
  for (const char* net : {"net_g", "net_dI", "net_dV"})
    EXPECT_TRUE(ck.at("optimizer").at(net).at("state").find(int64_t{0})) << net;
  EXPECT_EQ(ck.at("dinet_meta").at("trainer").as_string(), "clip");
  EXPECT_EQ(ck.at("dinet_meta").at("mouth_region_size").as_int(), 64);
  EXPECT_EQ(ck.at("dinet_meta").at("scheduler_steps").as_int(), 1);
  // PyTorch opens it, with exactly the published networks' keys and shapes, and the
  // optimizer states load into torch.optim.Adam (skipped without python3-torch or ../shared).
  const std::string python = dinet::test::python_with_torch();
  if (!python.empty() && !dinet::test::shared_dir().empty()) {
    const auto check = dinet::test::check_checkpoint_in_pytorch(python, "clip", out / "netG_model_epoch_1.pth");
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_NE(check.output.find("OK"), std::string::npos) << check.output;
  } else {
    std::printf("note: the PyTorch check of the checkpoint is skipped (no python3-torch or ../shared)\n");
  }

  // The run started from the frame stage's generator and trained it.
  const auto start = dinet::read_state_dict(s.generator, {"state_dict", "net_g"});
  const auto trained = dinet::read_state_dict(out / "netG_model_epoch_1.pth", {"state_dict", "net_g"});
  ASSERT_EQ(start.size(), trained.size());
  EXPECT_EQ(start[0].first, trained[0].first);
  const at::Tensor change = (start[0].second - trained[0].second).abs().max();
  EXPECT_GT(change.item<double>(), 0);
  EXPECT_LT(change.item<double>(), 1e-2);  // one Adam step of lr 1e-4 from the given weights

  // Resumed: the next epoch from the run's own checkpoint (the frame checkpoint is not
  // needed), ending with exactly the weights of a run that did not stop.
  r = run_dinet(clip_args(s, dir / "straight", {}, {}, 1, 1, 2, /*checkpoint=*/2) + " --end_epoch 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::remove(s.generator);
  r = run_dinet(clip_args(s, out, dir / "gone.pth") + " --end_epoch 2 --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming from"), std::string::npos) << r.output;
  EXPECT_EQ(line_count(out / "train_log.jsonl", "\"event\":\"epoch\""), 2);
  const TorchValue ck2 = dinet::load_torch_file(out / "netG_model_epoch_2.pth");
  EXPECT_EQ(ck2.at("epoch").as_int(), 3);
  EXPECT_EQ(ck2.at("dinet_meta").at("scheduler_steps").as_int(), 2);
  EXPECT_EQ(ck2.at("optimizer").at("net_dV").at("state").at(int64_t{0}).at("step").as_tensor().item<double>(), 2);
  for (const char* net : {"net_g", "net_dI", "net_dV"}) {
    const auto a = dinet::read_state_dict(dir / "straight" / "netG_model_epoch_2.pth", {"state_dict", net});
    const auto b = dinet::read_state_dict(out / "netG_model_epoch_2.pth", {"state_dict", net});
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i].second, b[i].second)) << net << " " << a[i].first;
  }
}

// With data held out, each epoch reports the mouth L1 on it and on the trained-on data.
TEST(TrainClip, EvaluatesHeldOutAndTrainedOn) {
  TempDir dir;
  ClipSetup s = clip_setup(dir);
  // Fewer than 4 videos: the last quarter of the clips is held out (5, as the stage needs).
  s.json = dinet::test::write_tiny_training_set(dir / "twenty", {.videos = 1, .clips = 20});
  const auto r = run_dinet(clip_args(s, dir / "out") + " --end_epoch 1 --holdout 0.25 --bn_batches 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mouth L1 held out"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trained on"), std::string::npos) << r.output;
  EXPECT_EQ(line_count(dir / "out" / "train_log.jsonl", "\"trained_mouth_l1\""), 1);
}

// Data parallel (docs/distributed.md): 2 processes with 1 clip each take the step of one
// process with 2 clips: the losses of the first step (before any update; the generator's
// BatchNorm takes the statistics of both processes' frames) agree, and rank 0 writes.
TEST(TrainClip, TwoProcessesStepLikeOneWithTheDoubledBatch) {
  TempDir dir;
  const ClipSetup s = clip_setup(dir);
  auto r = run_dinet(clip_args(s, dir / "one", {}, {}, 2, 2) + " --end_epoch 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_dinet("launch -n 2 -- " + clip_args(s, dir / "two", {}, {}, 1, 2, 1) + " --end_epoch 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "two" / "netG_model_epoch_1.pth"));
  const auto one = log_records(dir / "one" / "train_log.jsonl"), two = log_records(dir / "two" / "train_log.jsonl");
  ASSERT_EQ(two.size(), 3u);  // start, one step, epoch: written once
  EXPECT_EQ(two[0]["world_size"], 2);
  EXPECT_EQ(two[0]["global_batch_size"], 2);
  ASSERT_EQ(one[1]["event"], "step");
  ASSERT_EQ(two[1]["event"], "step");
  for (const char* loss : {"loss_dI", "loss_dV", "loss_gI", "loss_gV", "loss_perception", "loss_sync"})
    EXPECT_NEAR(two[1][loss].get<double>(), one[1][loss].get<double>(), 1e-4 * one[1][loss].get<double>())
        << loss;
}

// The released files (no dinet_meta; the mouth size in their names) are accepted as
// starting points. A run whose first epoch is past its last loads them and stops.
TEST(TrainClip, AcceptsThePublishedFilesAsStartingPoints) {
  TempDir dir;
  const ClipSetup s = clip_setup(dir);
  const fs::path published = write_generator(dir / "clip_training_DINet_64mouth.pth", "");
  const auto r = run_dinet(clip_args(s, dir / "out", published) + " --start_epoch 3 --end_epoch 2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("not checked"), std::string::npos) << r.output;
  // Without a size in the name, the size is not checked, and the run says so.
  fs::copy_file(published, dir / "released.pth");
  const auto unnamed = run_dinet(clip_args(s, dir / "unnamed", dir / "released.pth") + " --start_epoch 3 --end_epoch 2");
  EXPECT_EQ(unnamed.exit_code, 0) << unnamed.output;
  EXPECT_NE(unnamed.output.find("released.pth has no dinet_meta: its mouth size is not checked"), std::string::npos)
      << unnamed.output;
}

// Each refused with one line naming the option or the file and what is wrong, before training.
TEST(TrainClip, RefusesStartingPointsThatDoNotFit) {
  TempDir dir;
  const ClipSetup s = clip_setup(dir);
  struct Case {
    std::string name, args, expected;
  };
  const std::vector<Case> cases = {
      {"missing syncnet", clip_args(s, dir / "a", {}, dir / "nosync.pth"),
       "--pretrained_syncnet_path " + (dir / "nosync.pth").string() + ": no such file"},
      {"syncnet of another mouth size", clip_args(s, dir / "b", {}, write_syncnet(dir / "s128.pth", "sync", 128)),
       "trained at mouth_region_size 128, this run uses 64"},
      {"published syncnet named for 256", clip_args(s, dir / "c", {}, write_syncnet(dir / "syncnet_256mouth.pth")),
       "named for mouth_region_size 256"},
      {"a generator file as syncnet", clip_args(s, dir / "d", {}, s.generator), "a checkpoint of `dinet train frame`"},
      {"missing generator", clip_args(s, dir / "e", dir / "noframe.pth"),
       "--pretrained_frame_DINet_path " + (dir / "noframe.pth").string() + ": no such file"},
      {"generator of another mouth size", clip_args(s, dir / "f", write_generator(dir / "g128.pth", "frame", 128)),
       "trained at mouth_region_size 128, this run uses 64"},
      {"no generator given", "train clip --train_data " + s.json.string() + " --result_path " + (dir / "g").string() +
                                 " --pretrained_syncnet_path " + s.syncnet.string() + " --vgg_weights random",
       "--pretrained_frame_DINet_path: required"},
  };
  const char* folders = "abcdefg";
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const auto r = run_dinet(c.args);
    EXPECT_NE(r.exit_code, 0) << c.name;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.name << ":\n" << r.output;
    EXPECT_FALSE(fs::exists(dir / std::string(1, folders[i]) / "train_log.jsonl")) << c.name;  // before training
  }
}

}  // namespace
