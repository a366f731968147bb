// --split_hdtf: HDTF's own processing steps 2 and 3 (its README): cut each raw video into
// the talking-head clips listed in `<subset>_annotion_time.txt` (HDTF's spelling), named
// `<video>_<clip index>.mp4` as HDTF names them ("Radio11_0.mp4"), and, where
// `<subset>_crop_wh.txt` gives the face window of a clip, crop it and resize it to a square
// (512 x 512 as HDTF's clips). Clips are written at 25 fps with their audio, so the
// resample step is not needed for them.
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "dinet/error.h"
#include "dinet/media.h"
#include "prepare_steps.h"

namespace dinet::prepare {
namespace {

constexpr double kFps = 25.0;
constexpr int kAudioRate = 44100;  // kept high: the clips are videos, not training features

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
    if (used == 0 || used != part.size() || value < 0)
      throw Error(file.string() + ":" + std::to_string(line), "bad time '" + text + "'");
    seconds = seconds * 60 + value;
    ++fields;
  }
  if (fields < 1 || fields > 3)
    throw Error(file.string() + ":" + std::to_string(line), "bad time '" + text + "'");
  return seconds;
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
    const fs::path crop_file = annotation_dir / (subset + "_crop_wh.txt");
    if (fs::exists(crop_file, ec)) crops = read_table(crop_file, nullptr);

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
        auto it = crops.find(video.name + "_" + std::to_string(i) + ".mp4");
        if (it != crops.end() && it->second.size() == 4) {
          std::array<int, 4> xwyh{};
          for (int k = 0; k < 4; ++k) xwyh[k] = std::stoi(it->second[k]);
          crop = xwyh;
        }
        video.crops.push_back(crop);
      }
      videos.push_back(std::move(video));
    }
  }
  return videos;
}

StepOutcome split_hdtf_video(RunContext& ctx, const HdtfVideo& video) {
  const PrepareParams& p = ctx.params;
  const std::string step = "split_hdtf";
  StepOutcome outcome;
  outcome.step = step;
  outcome.video = video.name;
  if (video.file.empty()) {
    outcome.status = StepStatus::skipped;
    outcome.reason = "raw video " + video.name + ".mp4 not found in " + p.hdtf_video_dir.string();
    return outcome;
  }
  nlohmann::json settings{{"intervals", video.intervals}, {"size", p.hdtf_size}};
  for (const auto& crop : video.crops)
    settings["crops"].push_back(crop ? nlohmann::json(*crop) : nlohmann::json());
  auto clip_path = [&](size_t i) {
    return p.source_video_dir / (video.name + "_" + std::to_string(i) + ".mp4");
  };
  StepMarker marker(p.source_video_dir, step);
  const bool ours = marker.exists(video.name) || marker.started(video.name);
  bool all_present = true;
  for (size_t i = 0; i < video.intervals.size(); ++i) all_present &= fs::exists(clip_path(i));
  if (all_present && !ours) return skipped(step, video.name, Plan::skip_foreign, clip_path(0));
  if (all_present && !p.force && marker.matches(video.name, settings))
    return skipped(step, video.name, Plan::skip_done, clip_path(0));

  marker.begin(video.name);
  VideoReader reader(video.file, kFps);
  const VideoInfo& info = reader.info();
  Audio audio;
  if (info.has_audio) audio = load_audio(video.file, kAudioRate);
  std::vector<std::string> notes;
  cv::Mat frame, out;
  int64_t index = 0;  // next frame the reader returns
  bool ended = false;
  size_t kept = 0;
  for (size_t clip = 0; clip < video.intervals.size() && !ended; ++clip) {
    if (!ours && fs::exists(clip_path(clip))) {
      notes.push_back("kept " + clip_path(clip).string() + " (not written by dinet prepare)");
      ++kept;
      continue;  // the next clip's seek skips its frames
    }
    const int64_t first = std::llround(video.intervals[clip].first * kFps);
    const int64_t last = std::llround(video.intervals[clip].second * kFps);
    for (; index < first; ++index, ctx.add_frames(1)) {
      ctx.check_cancel();
      if (!reader.read(frame)) {
        ended = true;
        break;
      }
    }
    if (ended) break;
    cv::Rect window(0, 0, info.width, info.height);
    if (const auto& crop = video.crops[clip]) {
      window = cv::Rect((*crop)[0], (*crop)[2], (*crop)[1], (*crop)[3]) & window;
      if (window.empty())
        throw Error(video.file.string(),
                    "crop of clip " + std::to_string(clip) + " lies outside the frame");
    }
    const bool resize = video.crops[clip].has_value();
    const cv::Size size = resize ? cv::Size(p.hdtf_size, p.hdtf_size) : window.size();
    Audio segment;
    const Audio* segment_audio = nullptr;
    if (!audio.samples.empty()) {
      segment.sample_rate = audio.sample_rate;
      const auto from = std::min(audio.samples.size(), size_t(first * audio.sample_rate / kFps));
      const auto to = std::min(audio.samples.size(), size_t(last * audio.sample_rate / kFps));
      segment.samples.assign(audio.samples.begin() + from, audio.samples.begin() + to);
      segment_audio = &segment;
    }
    // Clips of an earlier, interrupted run are complete files (written atomically) but
    // are redone: their marker is missing, so nothing says they used these settings.
    VideoWriter writer(clip_path(clip), size.width, size.height, {}, segment_audio);
    int64_t written = 0;
    for (; index < last; ++index, ctx.add_frames(1)) {
      ctx.check_cancel();
      if (!reader.read(frame)) {
        ended = true;
        break;
      }
      if (resize)
        cv::resize(frame(window), out, size, 0, 0, cv::INTER_AREA);
      else
        out = frame;
      writer.write(out);
      ++written;
    }
    if (written == 0) break;  // the writer is dropped unfinished: no empty clip appears
    writer.finish();
    outcome.clips++;
    if (written < last - first)
      notes.push_back("clip " + std::to_string(clip) + " cut short at the end of the video");
  }
  outcome.frames = index;
  if (const size_t missing = video.intervals.size() - kept - size_t(outcome.clips))
    notes.push_back(std::to_string(missing) + " clips start after the video ends");
  marker.finish(video.name, settings);
  for (const auto& note : notes) outcome.reason += (outcome.reason.empty() ? "" : "; ") + note;
  return outcome;
}

}  // namespace dinet::prepare
