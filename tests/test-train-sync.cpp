// `dinet train sync` as a user runs it, on a tiny prepared set: the per-epoch evaluation,
// checkpoints in the published SyncNet layout, resume, and the file opened by PyTorch.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "dinet/checkpoint.h"
#include "dinet/networks.h"
#include "dinet/torch_file.h"
#include "test_support.h"
#include "train_test_data.h"

namespace {
namespace fs = std::filesystem;
using dinet::test::run_dinet;
using dinet::test::TempDir;

std::string sync_args(const fs::path& json, const fs::path& out) {
  return "train sync --train_data " + json.string() + " --result_path " + out.string() +
         " --mouth_region_size 64 --batch_size 8 --augment_num 4 --max_offset 2 --eval_clips 4"
         " --workers 2 --threads 2 --quiet";
}

// With landmark CSVs, so the lip-shape head trains too, and a decaying learning rate: both
// must resume exactly.
TEST(TrainSync, TrainsEvaluatesAndResumes) {
  TempDir dir;
  const fs::path json =
      dinet::test::write_tiny_training_set(dir.path(), {.videos = 2, .clips = 8, .landmark_csvs = 2});
  const fs::path straight = dir / "straight", resumed = dir / "resumed";
  auto r = run_dinet(sync_args(json, straight) + " --epochs 2 --decay 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("held-out accuracy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mean |offset|"), std::string::npos) << r.output;
  for (const char* f : {"syncnet_epoch_1.pth", "syncnet_epoch_2.pth", "syncnet_64mouth.pth", "train_log.jsonl"})
    EXPECT_TRUE(fs::exists(straight / f)) << f;

  // The published layout {'state_dict': {'net': ...}}, which load_syncnet reads back.
  const dinet::TorchValue final_file = dinet::load_torch_file(straight / "syncnet_64mouth.pth");
  EXPECT_EQ(final_file.at("state_dict").at("net").entries().front().key.as_string(),
            "face_encoder.face_conv.0.conv.weight");
  EXPECT_EQ(final_file.at("dinet_meta").at("trainer").as_string(), "sync");
  EXPECT_EQ(final_file.find("dinet_lip_head"), nullptr);  // training state only
  EXPECT_NE(dinet::load_torch_file(straight / "syncnet_epoch_2.pth").find("dinet_lip_head"), nullptr);
  EXPECT_NE(r.output.find(" lip "), std::string::npos) << r.output;
  dinet::SyncNet loaded = dinet::load_syncnet(straight / "syncnet_64mouth.pth");
  EXPECT_EQ(loaded->audio_channel(), 29);

  std::ifstream log(straight / "train_log.jsonl");
  std::set<double> epoch2_lr;
  for (std::string line; std::getline(log, line);)
    if (const auto record = nlohmann::json::parse(line); record["event"] == "step" && record["epoch"] == 2)
      epoch2_lr.insert(record["lr"].get<double>());
  ASSERT_EQ(epoch2_lr.size(), 1u);
  EXPECT_NEAR(*epoch2_lr.begin(), 1e-4 * 2 / 3, 1e-12);  // the published linear decay, 1 - 1/(decay+1)

  r = run_dinet(sync_args(json, resumed) + " --epochs 1 --decay 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_dinet(sync_args(json, resumed) + " --epochs 2 --decay 2 --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming from"), std::string::npos) << r.output;
  const auto a = dinet::read_state_dict(straight / "syncnet_epoch_2.pth", {"state_dict", "net"});
  const auto b = dinet::read_state_dict(resumed / "syncnet_epoch_2.pth", {"state_dict", "net"});
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::allclose(a[i].second, b[i].second, 1e-5, 1e-6)) << a[i].first;
}

TEST(TrainSync, ClearErrors) {
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 3});
  const std::pair<const char*, const char*> bad_options[] = {{"--lip_loss -1", "--lip_loss"},
                                                             {"--epochs 2 --decay 3", "--decay"}};
  for (const auto& [options, named] : bad_options) {
    const auto r = run_dinet(sync_args(json, dir / "out") + " " + options);
    EXPECT_NE(r.exit_code, 0) << options;
    EXPECT_NE(r.output.find(named), std::string::npos) << r.output;
  }
  auto r = run_dinet(sync_args(json, dir / "out") + " --device cuda");
  EXPECT_NE(r.exit_code, 0);
  r = run_dinet(sync_args(json, dir / "out") + " --precision fp16");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("fp16"), std::string::npos) << r.output;
  r = run_dinet(sync_args(dir / "missing.json", dir / "out"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("missing.json"), std::string::npos) << r.output;
}

TEST(TrainSync, CheckpointOpensInPyTorchWithThePublishedLayout) {
  DINET_REQUIRE_SHARED();
  const std::string python = dinet::test::python_with_torch();
  if (python.empty()) GTEST_SKIP() << "python3-torch is not installed";
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 2, .clips = 8});
  auto r = run_dinet(sync_args(json, dir / "out") + " --epochs 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"syncnet_epoch_1.pth", "syncnet_64mouth.pth"}) {
    const auto check = dinet::test::check_checkpoint_in_pytorch(python, "sync", dir / "out" / f);
    EXPECT_EQ(check.exit_code, 0) << f << ": " << check.output;
  }
}

}  // namespace
