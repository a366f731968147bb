// Feature files: the published `<video>_deepspeech.txt` (numpy savetxt) and .npy arrays.
#include <ATen/ATen.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "dinet/audio_features.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/npy.h"

namespace dinet {
namespace fs = std::filesystem;
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == ','; }

// numpy.loadtxt's reading of savetxt output: one row per line, '#' comments and blank lines
// skipped, every row the same width. Commas are accepted too (savetxt with delimiter=',').
at::Tensor read_text(const fs::path& file) {
  const std::string text = read_file(file);
  std::vector<float> values;
  int64_t columns = -1, rows = 0, line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line_number;
    const char* p = text.data() + pos;
    const char* line_end = std::find(p, text.data() + end, '#');
    int64_t count = 0;
    while (true) {
      while (p < line_end && is_space(*p)) ++p;
      if (p >= line_end) break;
      if (*p == '+') ++p;  // from_chars takes no plus sign
      double v = 0;
      const auto [next, ec] = std::from_chars(p, line_end, v);
      // Features are float32: NaN, infinities and values beyond float's range are damage.
      if (ec != std::errc() || (next < line_end && !is_space(*next)) || !std::isfinite(v) ||
          std::abs(v) > std::numeric_limits<float>::max())
        throw Error(file.string(), "line " + std::to_string(line_number) +
                                       ": not a finite float32 number: '" +
                                       std::string(p, std::min<size_t>(line_end - p, 24)) + "'");
      values.push_back(static_cast<float>(v));
      ++count;
      p = next;
    }
    pos = end + 1;
    if (count == 0) continue;
    if (columns >= 0 && count != columns)
      throw Error(file.string(), "line " + std::to_string(line_number) + " has " +
                                     std::to_string(count) + " values, the lines before " +
                                     std::to_string(columns));
    columns = count;
    ++rows;
  }
  if (rows == 0) throw Error(file.string(), "no feature rows");
  return at::from_blob(values.data(), {rows, columns}, at::kFloat).clone();
}

void write_text(const fs::path& file, const at::Tensor& features) {
  const at::Tensor f = features.to(at::kDouble).contiguous();
  const double* v = f.data_ptr<double>();
  std::string text;
  text.reserve(static_cast<size_t>(f.numel()) * 26);
  char number[40];
  for (int64_t r = 0; r < f.size(0); ++r) {
    for (int64_t c = 0; c < f.size(1); ++c) {
      // numpy savetxt's default: fmt='%.18e', delimiter=' ', newline='\n'.
      std::snprintf(number, sizeof number, "%.18e", v[r * f.size(1) + c]);
      if (c) text += ' ';
      text += number;
    }
    text += '\n';
  }
  write_file_atomic(file, text);
}

std::string extension_of(const fs::path& file) {
  const std::string ext = file.extension().string();
  if (ext != ".txt" && ext != ".npy")
    throw Error(file.string(), "feature files are .txt (numpy savetxt) or .npy, not '" + ext + "'");
  return ext;
}

}  // namespace

at::Tensor read_feature_file(const fs::path& file, std::optional<int64_t> expected_frames,
                             std::optional<int> expected_channels) {
  at::Tensor features;
  if (extension_of(file) == ".txt") {
    features = read_text(file);
  } else {
    features = read_npy(file);
    if (features.dim() != 2 || !at::isFloatingType(features.scalar_type()))
      throw Error(file.string(), "expected a 2-D float array (frames, channels), got " +
                                     std::to_string(features.dim()) + " dimensions of " +
                                     std::string(c10::toString(features.scalar_type())));
    features = features.to(at::kFloat).contiguous();
  }
  if (expected_channels && features.size(1) != *expected_channels)
    throw Error(file.string(), std::to_string(features.size(1)) + " values per row, expected " +
                                   std::to_string(*expected_channels));
  if (expected_frames && features.size(0) != *expected_frames)
    throw Error(file.string(), std::to_string(features.size(0)) +
                                   " feature rows but the video has " +
                                   std::to_string(*expected_frames) +
                                   " frames (one row per 25-fps frame is needed)");
  return features;
}

void write_feature_file(const fs::path& file, const at::Tensor& features) {
  if (features.dim() != 2)
    throw Error(file.string(), "features must be (frames, channels), got " +
                                   std::to_string(features.dim()) + " dimensions");
  if (extension_of(file) == ".txt")
    write_text(file, features);
  else
    write_npy(file, features);
}

}  // namespace dinet
