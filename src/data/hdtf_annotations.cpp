// HDTF's annotation files (its README, steps 2 and 3): `<subset>_annotion_time.txt` (HDTF's
// spelling) lists the talking-head intervals of each raw video, `<subset>_crop_wh.txt` the
// face window of some clips. Text from outside: every field is checked, each error names the
// file and the line.
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "dinet/error.h"
#include "prepare_steps.h"

namespace dinet::prepare {
namespace {

// "MM:SS", "HH:MM:SS", seconds optionally fractional.
double parse_time(const std::string& text, const fs::path& file, int line) {
  double seconds = 0;
  std::stringstream parts(text);
  std::string part;
  int fields = 0;
  while (std::getline(parts, part, ':')) {
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size() || !std::isfinite(value) || value < 0)
      throw Error(file.string() + ":" + std::to_string(line), "bad time '" + text + "'");
    seconds = seconds * 60 + value;
    ++fields;
  }
  if (fields < 1 || fields > 3)
    throw Error(file.string() + ":" + std::to_string(line), "bad time '" + text + "'");
  return seconds;
}

// A crop window coordinate: a whole number of pixels, 0 to 100000.
int parse_pixels(const std::string& text, const std::string& where) {
  int value = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0 || value > 100000)
    throw Error(where, "bad crop coordinate '" + text + "'");
  return value;
}

// Lines "<name> <field> <field> ..." into name -> fields.
std::map<std::string, std::vector<std::string>> read_table(const fs::path& file,
                                                           std::map<std::string, int>* lines) {
  std::ifstream in(file);
  if (!in) throw Error(file.string(), "cannot read");
  std::map<std::string, std::vector<std::string>> table;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::stringstream words(line);
    std::string name, word;
    if (!(words >> name)) continue;
    auto& fields = table[name];
    while (words >> word) fields.push_back(word);
    if (lines) (*lines)[name] = number;
  }
  return table;
}

fs::path find_raw_video(const fs::path& dir, const std::string& subset, const std::string& name) {
  // HDTF's README keeps the names of the annotation files; its download script prefixes
  // the subset ("WDA_KatieHill.mp4"). Either is found.
  for (const fs::path& candidate : {dir / name, dir / (subset + "_" + name)}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  return {};
}

}  // namespace

std::vector<HdtfVideo> read_hdtf_annotations(const fs::path& annotation_dir,
                                             const fs::path& video_dir) {
  std::vector<HdtfVideo> videos;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(annotation_dir, ec)) {
    const std::string name = entry.path().filename().string();
    for (const std::string suffix : {"_annotion_time.txt", "_annotation_time.txt"})
      if (name.size() > suffix.size() && name.ends_with(suffix)) files.push_back(entry.path());
  }
  if (ec) throw Error(annotation_dir.string(), "cannot list HDTF annotations: " + ec.message());
  if (files.empty()) throw Error(annotation_dir.string(), "no HDTF *_annotion_time.txt files");
  std::sort(files.begin(), files.end());

  for (const auto& file : files) {
    const std::string filename = file.filename().string();
    const std::string subset = filename.substr(0, filename.find('_'));
    std::map<std::string, std::vector<std::string>> crops;
    std::map<std::string, int> crop_lines;
    const fs::path crop_file = annotation_dir / (subset + "_crop_wh.txt");
    if (fs::exists(crop_file, ec)) crops = read_table(crop_file, &crop_lines);

    std::map<std::string, int> lines;
    for (const auto& [name, fields] : read_table(file, &lines)) {
      HdtfVideo video;
      video.name = fs::path(name).stem().string();
      video.file = find_raw_video(video_dir, subset, name);
      const std::string where = file.string() + ":" + std::to_string(lines[name]);
      for (size_t i = 0; i < fields.size(); ++i) {
        const size_t dash = fields[i].find('-');
        if (dash == std::string::npos)
          throw Error(where, "expected start-end, got '" + fields[i] + "'");
        const double start = parse_time(fields[i].substr(0, dash), file, lines[name]);
        const double end = parse_time(fields[i].substr(dash + 1), file, lines[name]);
        if (end <= start) throw Error(where, "interval '" + fields[i] + "' ends before it starts");
        if (!video.intervals.empty() && start < video.intervals.back().second)
          throw Error(where, "intervals overlap or are out of order");
        video.intervals.emplace_back(start, end);
        // Crop lines are "<video>_<clip>.mp4 x width y height".
        std::optional<std::array<int, 4>> crop;
        const std::string clip = video.name + "_" + std::to_string(i) + ".mp4";
        auto it = crops.find(clip);
        if (it != crops.end() && it->second.size() == 4) {
          std::array<int, 4> xwyh{};
          for (int k = 0; k < 4; ++k)
            xwyh[k] = parse_pixels(it->second[k], crop_file.string() + ":" + std::to_string(crop_lines[clip]));
          crop = xwyh;
        }
        video.crops.push_back(crop);
      }
      videos.push_back(std::move(video));
    }
  }
  return videos;
}

}  // namespace dinet::prepare
