// `dinet finetune` on a short real clip: it writes a usable final.pth that names the video it came
// from and a self-reconstruction report measured on frames the training never saw; a result path
// holding a run is refused without --resume or --force.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/finetune.h"
#include "dinet/media.h"
#include "dinet/torch_file.h"
#include "test_support.h"

namespace {
namespace fs = std::filesystem;
using dinet::test::TempDir;

int64_t frames_of(const fs::path& video) {
  dinet::VideoReader reader(video);
  cv::Mat frame;
  while (reader.read(frame)) {
  }
  return reader.frames_read();
}

dinet::FinetuneOptions few_steps(const fs::path& video, const fs::path& out) {
  dinet::FinetuneOptions o;
  o.source_video = video;
  o.result_path = out;
  o.mouth_region_size = 64;
  o.epochs = 1;
  o.holdout_seconds = 2;
  o.batch_size = 4;
  o.augment_num = 8;
  o.eval_minutes = 0;
  o.threads = 2;
  o.show_progress = false;
  return o;
}

TEST(Finetune, ShortRealClipGivesAModelAndAReportOnHeldOutFrames) {
  DINET_REQUIRE_SHARED();
  const fs::path video = dinet::test::shared_dir() / "data/real/sadtalker_WDA_KatieHill_000.mp4";  // 200 frames
  TempDir dir;
  const dinet::FinetuneResult r = dinet::finetune(few_steps(video, dir / "run"));

  const nlohmann::json record = nlohmann::json::parse(dinet::read_file(dir / "run/finetune.json"));
  EXPECT_EQ(record.at("holdout_frames").get<int64_t>(), 50);
  EXPECT_EQ(record.at("train_frames").get<int64_t>(), 150);
  EXPECT_EQ(record.at("source_video_sha256").get<std::string>(), dinet::file_sha256(video));
  // The training part holds only the first 150 frames; the held-out part the last 50.
  EXPECT_EQ(frames_of(dir / "run/data/training_data/split_video_25fps/sadtalker_WDA_KatieHill_000.mp4"), 150);
  EXPECT_EQ(frames_of(dir / "run/holdout/sadtalker_WDA_KatieHill_000.mp4"), 50);

  const dinet::TorchValue model = dinet::load_torch_file(r.final_model);
  EXPECT_NE(model.at("state_dict").find("net_g"), nullptr);
  EXPECT_EQ(model.find("optimizer"), nullptr);
  const dinet::TorchValue& person = model.at("dinet_meta").at("finetune");
  EXPECT_EQ(person.at("source_video_sha256").as_string(), dinet::file_sha256(video));
  EXPECT_EQ(person.at("holdout_first_frame").as_int(), 150);

  const nlohmann::json report = nlohmann::json::parse(dinet::read_file(dir / "run/selfrecon.json"));
  ASSERT_EQ(report.at("variants").size(), 3u);  // own audio, other audio, still mouth
  EXPECT_EQ(report.at("variants")[0].at("frames").get<int64_t>(), 50);
  EXPECT_EQ(report.at("variants")[2].at("name").get<std::string>(), "still mouth");
  EXPECT_TRUE(fs::exists(dir / "run/selfrecon.html"));
  EXPECT_GT(r.lmd_iod, 0);

  // The same folder again: refused without --resume or --force.
  try {
    dinet::finetune(few_steps(video, dir / "run"));
    FAIL() << "a second run into the same folder was accepted";
  } catch (const dinet::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
}

TEST(Finetune, NeedsABudget) {
  TempDir dir;
  dinet::FinetuneOptions o = few_steps(dinet::test::source_dir() / "CMakeLists.txt", dir / "run");
  o.epochs = 0;
  EXPECT_THROW(dinet::finetune(o), dinet::Error);
  EXPECT_FALSE(fs::exists(dir / "run"));
}

}  // namespace
