// What a training run leaves in its result folder besides checkpoints: the JSONL log of
// losses, the per-epoch PNG grids, and the temporaries of killed writers.
#pragma once

#include <ATen/Tensor.h>

#include "dinet/train.h"
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

// A PNG (written atomically) of `columns` image batches side by side, one row per sample:
// each column is (B,C,H,W) RGB in [0,1] with C a multiple of 3 (a 15-channel batch shows
// as five images). Columns must share B and H.
void save_image_grid(const std::filesystem::path& file, const std::vector<at::Tensor>& columns);

}  // namespace dinet::train
