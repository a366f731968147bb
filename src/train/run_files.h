// What a training run leaves in its result folder besides checkpoints: the JSONL log of
// losses, the per-epoch PNG grids, and finding the newest checkpoint to resume from.
#pragma once

#include <ATen/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace dinet::train {

// One json object per line, appended and flushed line by line, so a killed run keeps every
// line written before it died and a resumed run continues the same file.
class JsonlLog {
 public:
  explicit JsonlLog(const std::filesystem::path& file);
  void write(const nlohmann::json& record);

 private:
  std::filesystem::path file_;
  std::ofstream out_;
};

// With data held out, the frame and clip stages also measure the mouth L1 on the trained-on
// data (-1 when not measured): adds the pair to an epoch's log record and returns the text
// for its epoch line ("" when not measured).
std::string trained_on_note(double trained_mouth_l1, double trained_copy_reference_l1, nlohmann::json& record);

// A PNG (written atomically) of `columns` image batches side by side, one row per sample:
// each column is (B,C,H,W) RGB in [0,1] with C a multiple of 3 (a 15-channel batch shows
// as five images). Columns must share B and H.
void save_image_grid(const std::filesystem::path& file, const std::vector<at::Tensor>& columns);

struct FoundCheckpoint {
  int64_t epoch = 0;
  std::filesystem::path file;
};
// The checkpoint `<prefix><N>.pth` with the largest N in `dir`, if any. Temporaries of
// interrupted writes (AtomicFile's ".tmp-" names) never match.
std::optional<FoundCheckpoint> newest_checkpoint(const std::filesystem::path& dir, const std::string& prefix);

// Deletes temporaries left in `dir` by writers that were killed (their process is gone):
// a checkpoint temporary can be hundreds of megabytes.
void remove_dead_temporaries(const std::filesystem::path& dir);

}  // namespace dinet::train
