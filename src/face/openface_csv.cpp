// OpenFace 2 landmark CSV, as the published `load_landmark_openface` reads it: a header
// line, then one row per frame numbered from 1 without gaps, x_0..x_67 in columns 5..72 and
// y_0..y_67 in 73..140. We write exactly that layout; we read real OpenFace output too,
// whose ~700 columns (gaze, pose, 3-D landmarks, action units) we find by header name.
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/landmarks.h"

namespace dinet {
namespace {

constexpr int kPoints = 68;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

// Errors name the file and the 1-based line, as an editor shows it.
class CsvErrors {
 public:
  explicit CsvErrors(const std::filesystem::path& path) : path_(path.string()) {}
  [[noreturn]] void fail(int64_t line, const std::string& problem) const {
    throw Error(path_, "line " + std::to_string(line) + ": " + problem);
  }
  [[noreturn]] void fail(const std::string& problem) const { throw Error(path_, problem); }

 private:
  std::string path_;
};

double parse_number(std::string_view field, const std::string& column, int64_t line,
                    const CsvErrors& errors) {
  const std::string text(field);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  // OpenFace writes zeros where it lost the face, never NaN: a non-finite value is damage.
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value))
    errors.fail(line, "column '" + column + "': '" + text + "' is not a finite number");
  return value;
}

struct Columns {
  size_t frame = 0;
  std::optional<size_t> face_id, confidence, success;
  std::array<size_t, kPoints> x{}, y{};
  size_t count = 0;
};

Columns find_columns(std::string_view header, const CsvErrors& errors) {
  std::map<std::string, size_t, std::less<>> index;
  const auto names = split_fields(header);
  for (size_t i = 0; i < names.size(); ++i) index.emplace(std::string(names[i]), i);
  auto required = [&](const std::string& name) {
    const auto it = index.find(name);
    if (it == index.end())
      errors.fail(1, "no column '" + name + "' in the header (not an OpenFace landmark CSV?)");
    return it->second;
  };
  auto optional = [&](const std::string& name) -> std::optional<size_t> {
    const auto it = index.find(name);
    return it == index.end() ? std::nullopt : std::optional<size_t>(it->second);
  };
  Columns c;
  c.count = names.size();
  c.frame = required("frame");
  c.face_id = optional("face_id");
  c.confidence = optional("confidence");
  c.success = optional("success");
  for (int k = 0; k < kPoints; ++k) {
    c.x[k] = required("x_" + std::to_string(k));
    c.y[k] = required("y_" + std::to_string(k));
  }
  return c;
}

}  // namespace

void write_openface_csv(const std::filesystem::path& path, const LandmarkTrack& track, double fps) {
  std::string text = "frame, face_id, timestamp, confidence, success";
  for (char axis : {'x', 'y'})
    for (int k = 0; k < kPoints; ++k) text += ", " + std::string(1, axis) + "_" + std::to_string(k);
  text += '\n';
  char buf[64];
  for (size_t t = 0; t < track.size(); ++t) {
    const float confidence = t < track.confidence.size() ? track.confidence[t] : 1.f;
    std::snprintf(buf, sizeof buf, "%zu, 0, %.3f, %.3f, %d", t + 1, double(t) / fps,
                  double(confidence), track.success[t] ? 1 : 0);
    text += buf;
    for (int axis = 0; axis < 2; ++axis)
      for (const auto& p : track.frames[t]) {
        // Three decimals keep the tracker's sub-pixel precision; the published loader
        // truncates them to integers itself.
        std::snprintf(buf, sizeof buf, ", %.3f", double(axis == 0 ? p.x : p.y));
        text += buf;
      }
    text += '\n';
  }
  write_file_atomic(path, text);
}

LandmarkTrack read_openface_csv(const std::filesystem::path& path,
                                std::optional<int64_t> expected_frames) {
  const CsvErrors errors(path);
  const std::string text = read_file(path);
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || trim(line).empty()) errors.fail("empty file, no CSV header");
  const Columns columns = find_columns(line, errors);

  LandmarkTrack track;
  int64_t line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const auto fields = split_fields(line);
    if (fields.size() != columns.count)
      errors.fail(line_number, std::to_string(fields.size()) + " fields where the header has " +
                                   std::to_string(columns.count));
    auto number = [&](size_t column, const std::string& name) {
      return parse_number(fields[column], name, line_number, errors);
    };
    const int64_t expected = int64_t(track.size()) + 1;
    const double frame = number(columns.frame, "frame");
    if (frame != double(expected)) {
      std::string problem = "frame " + std::string(fields[columns.frame]) + " where " +
                            std::to_string(expected) +
                            " was expected (frames must be numbered from 1 without gaps)";
      if (columns.face_id && number(*columns.face_id, "face_id") != 0)
        problem += "; several faces per frame are not supported";
      errors.fail(line_number, problem);
    }
    const bool success = columns.success ? number(*columns.success, "success") != 0 : true;
    FaceLandmarks landmarks;
    for (int k = 0; k < kPoints; ++k) {
      const double x = number(columns.x[k], "x_" + std::to_string(k));
      const double y = number(columns.y[k], "y_" + std::to_string(k));
      if (success && !(std::isfinite(x) && std::isfinite(y)))
        errors.fail(line_number, "landmark " + std::to_string(k) + " is not finite");
      landmarks[k] = {float(x), float(y)};
    }
    track.frames.push_back(landmarks);
    track.success.push_back(success ? 1 : 0);
    track.confidence.push_back(
        columns.confidence ? float(number(*columns.confidence, "confidence")) : (success ? 1.f : 0.f));
  }
  if (track.size() == 0) errors.fail("no frames after the header");
  if (expected_frames && int64_t(track.size()) != *expected_frames)
    errors.fail(std::to_string(track.size()) + " frames where the video has " +
                std::to_string(*expected_frames));
  return track;
}

}  // namespace dinet
