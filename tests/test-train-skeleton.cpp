// What the training skeleton (src/train/trainer.h) gives every stage, seen through
// `dinet train frame`: a result folder of another run is refused without --resume or --force,
// --force starts over, a Ctrl-C stops between steps with exit code 130 and no temporaries,
// and the epoch figures reach the log under their declared names.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "dinet/error.h"
#include "dinet/process.h"
#include "dinet/train.h"
#include "test_support.h"
#include "train_test_data.h"

namespace {
namespace fs = std::filesystem;
using dinet::test::run_dinet;
using dinet::test::TempDir;

std::string frame_args(const fs::path& json, const fs::path& out) {
  return "train frame --train_data " + json.string() + " --result_path " + out.string() +
         " --mouth_region_size 64 --batch_size 2 --augment_num 2 --checkpoint 1 --vgg_weights random"
         " --eval_samples 2 --bn_batches 1 --workers 1 --threads 2 --quiet";
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(TrainSkeleton, AnotherRunsFolderNeedsResumeOrForce) {
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 7});
  const fs::path out = dir / "out";
  ASSERT_EQ(run_dinet(frame_args(json, out) + " --end_epoch 2").exit_code, 0);
  const auto before = fs::last_write_time(out / "netG_model_epoch_1.pth");

  // Refused in one line naming the folder and both options; nothing touched.
  auto r = run_dinet(frame_args(json, out) + " --end_epoch 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(out.string() + ": holds another run's"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--resume"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  EXPECT_EQ(fs::last_write_time(out / "netG_model_epoch_1.pth"), before);
  EXPECT_TRUE(fs::exists(out / "netG_model_epoch_2.pth"));

  // --force starts over: the old log and checkpoints go, the new run's come.
  r = run_dinet(frame_args(json, out) + " --end_epoch 1 --force");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(out / "netG_model_epoch_2.pth"));
  EXPECT_TRUE(fs::exists(out / "netG_model_epoch_1.pth"));
  const std::string log = read_text(out / "train_log.jsonl");
  EXPECT_EQ(log.find("\"event\":\"start\""), log.rfind("\"event\":\"start\"")) << "one run in the log";
  // The declared figures, under their names.
  for (const char* key : {"\"loss_dI\"", "\"mouth_l1\"", "\"copy_reference_l1\"", "\"samples_per_s\"", "\"wait_fraction\""})
    EXPECT_NE(log.find(key), std::string::npos) << key;
}

TEST(TrainSkeleton, KeepsTheNewestCheckpoints) {
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 7});
  dinet::FrameTrainOptions o;
  o.train_data = json;
  o.result_path = dir / "out";
  o.batch_size = 2;
  o.augment_num = 2;
  o.checkpoint = 1;
  o.end_epoch = 3;
  o.vgg_weights = "random";
  o.eval_samples = 2;
  o.bn_batches = 1;
  o.workers = 1;
  o.threads = 2;
  o.show_progress = false;
  o.keep_checkpoints = 1;
  std::vector<int64_t> seen;
  o.after_epoch = [&](const dinet::EpochFigures& figures, const fs::path& checkpoint) {
    seen.push_back(figures.epoch);
    EXPECT_TRUE(fs::exists(checkpoint)) << checkpoint;
    EXPECT_GE(figures.at("mouth_l1"), 0);
  };
  const std::vector<dinet::EpochFigures> results = dinet::train_frame(o);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3}));
  const std::vector<dinet::FoundCheckpoint> left = dinet::checkpoints(o.result_path, "netG_model_epoch_");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left.front().epoch, 3);
  EXPECT_THROW(results.front().at("no such figure"), dinet::Error);
}

// Ctrl-C (SIGINT) during training: the run stops after its current step, says so in the log,
// leaves no temporary, and exits with 130. Its last checkpoint resumes.
TEST(TrainSkeleton, InterruptStopsBetweenSteps) {
  TempDir dir;
  const fs::path json = dinet::test::write_tiny_training_set(dir.path(), {.videos = 1, .clips = 7});
  const fs::path out = dir / "out";
  ASSERT_EQ(run_dinet(frame_args(json, out) + " --end_epoch 1").exit_code, 0);
  std::vector<std::string> args{"dinet"};
  std::istringstream words(frame_args(json, out) + " --end_epoch 1000 --resume");
  for (std::string w; words >> w;) args.push_back(w);
  const pid_t pid = dinet::start_process({dinet::test::dinet_binary().string(), args});
  // Wait until it trains (a step record of epoch 2), then interrupt.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (read_text(out / "train_log.jsonl").find("\"epoch\":2,\"event\":\"step\"") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::kill(pid, SIGINT);
  EXPECT_EQ(dinet::wait_process(pid), 130);
  EXPECT_NE(read_text(out / "train_log.jsonl").find("\"event\":\"interrupted\""), std::string::npos);
  for (const auto& entry : fs::directory_iterator(out))
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  EXPECT_TRUE(dinet::newest_checkpoint(out, "netG_model_epoch_").has_value());
}

}  // namespace
