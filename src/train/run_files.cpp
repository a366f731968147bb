#include "train/run_files.h"

#include <ATen/ops/cat.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <regex>

#include "dinet/error.h"
#include "dinet/files.h"

namespace dinet::train {
namespace fs = std::filesystem;

JsonlLog::JsonlLog(const fs::path& file) : file_(file) {
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  out_.open(file, std::ios::app);
  if (!out_) throw Error(file.string(), "cannot open the training log");
}

void JsonlLog::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) throw Error(file_.string(), "write failed");
}

void save_image_grid(const fs::path& file, const std::vector<at::Tensor>& columns) {
  if (columns.empty()) throw Error(file.string(), "no images for the grid");
  std::vector<at::Tensor> images;  // (B,3,H,w) each, side by side
  for (const at::Tensor& c : columns)
    for (int64_t k = 0; k + 3 <= c.size(1); k += 3) images.push_back(c.narrow(1, k, 3).to(at::kFloat).cpu());
  // Rows of samples one under the other: (B,3,H,W_total) -> (3, B*H, W_total).
  at::Tensor grid = at::cat(images, 3);
  grid = grid.permute({1, 0, 2, 3}).reshape({3, -1, grid.size(3)});
  at::Tensor hwc = grid.clamp(0, 1).mul(255).round().to(at::kByte).permute({1, 2, 0}).contiguous();
  cv::Mat rgb(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3, hwc.data_ptr<uint8_t>());
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  AtomicFile out(file);
  if (!cv::imwrite(out.temp_path().string(), bgr)) throw Error(file.string(), "cannot write the PNG");
  out.commit();
}

}  // namespace dinet::train

namespace dinet {
namespace fs = std::filesystem;

double EpochFigures::at(const std::string& key) const {
  for (const auto& [name, value] : values)
    if (name == key) return value;
  throw Error("epoch " + std::to_string(epoch) + ": no figure '" + key + "'");
}

std::vector<FoundCheckpoint> checkpoints(const fs::path& dir, const std::string& prefix) {
  std::vector<FoundCheckpoint> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;
  const std::regex pattern(std::regex_replace(prefix, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                           R"((\d+)\.pth)");
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, m, pattern))
      found.push_back({std::stoll(m[1].str()), entry.path()});
  }
  return found;
}

std::optional<FoundCheckpoint> newest_checkpoint(const fs::path& dir, const std::string& prefix) {
  const std::vector<FoundCheckpoint> found = checkpoints(dir, prefix);
  if (found.empty()) return std::nullopt;
  return *std::max_element(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.epoch < b.epoch; });
}

}  // namespace dinet
