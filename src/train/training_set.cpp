#include "train/training_set.h"

#include <ATen/ops/empty.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>

#include "dinet/error.h"

namespace dinet::train {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// The published json holds paths as the machine that made it wrote them; the published
// trainer opens them from its working directory, after turning '\' into '/'.
fs::path resolve_path(std::string text, const fs::path& json_dir) {
  std::replace(text.begin(), text.end(), '\\', '/');
  const fs::path path(text);
  if (path.is_absolute()) return path;
  std::error_code ec;
  if (fs::exists(path, ec)) return path;
  return json_dir / path;
}

// "video/000003/000027.jpg" -> 27; nullopt when the stem is not a number.
std::optional<int64_t> frame_number(const std::string& name) {
  const std::string stem = fs::path(name).stem().string();
  if (stem.empty() || !std::all_of(stem.begin(), stem.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
  return std::stoll(stem);
}

AudioFeatureSpec spec_for(const std::string& name, int64_t channels, const std::string& where) {
  if (name.empty())
    return channels == kDeepSpeechChannels ? audio_feature_spec("deepspeech")
                                           : AudioFeatureSpec{"external", static_cast<int>(channels)};
  AudioFeatureSpec spec{name, static_cast<int>(channels)};
  if (name == "deepspeech" || name == "mel") {
    const AudioFeatureSpec builtin = audio_feature_spec(name);
    if (builtin.channels != channels)
      throw Error(where, "audio_feature '" + name + "' has " + std::to_string(builtin.channels) +
                             " channels, the features have " + std::to_string(channels));
  }
  return spec;
}

TrainingVideo read_video(const std::string& name, const Json& entry, const fs::path& json_dir,
                         const std::string& where, int64_t& channels) {
  if (!entry.is_object() || !entry.contains("clip_data_list") || !entry["clip_data_list"].is_array())
    throw Error(where, "video '" + name + "' has no clip_data_list");
  TrainingVideo video;
  video.name = name;
  const Json& clips = entry["clip_data_list"];
  std::vector<float> rows;
  int64_t ordinal = 0;
  for (const Json& clip_entry : clips) {
    const std::string clip_where = where + ": video '" + name + "' clip " + std::to_string(ordinal);
    const Json* paths = clip_entry.contains("frame_path_list") ? &clip_entry["frame_path_list"] : nullptr;
    const Json* features = clip_entry.contains("deep_speech_list") ? &clip_entry["deep_speech_list"] : nullptr;
    if (!paths || !paths->is_array() || paths->size() != kClipLength)
      throw Error(clip_where, "frame_path_list must hold 9 paths");
    if (!features || !features->is_array() || features->size() != kClipLength)
      throw Error(clip_where, "deep_speech_list must hold 9 feature rows");
    TrainingClip clip;
    for (int k = 0; k < kClipLength; ++k) clip.frames[k] = resolve_path((*paths)[k].get<std::string>(), json_dir);
    const Json* names = clip_entry.contains("frame_name_list") ? &clip_entry["frame_name_list"] : nullptr;
    const std::string first_name = names && names->is_array() && !names->empty()
                                       ? (*names)[0].get<std::string>()
                                       : (*paths)[0].get<std::string>();
    clip.first_frame = frame_number(first_name).value_or(ordinal * kClipLength);
    clip.first_row = ordinal * kClipLength;
    for (const Json& row : *features) {
      if (!row.is_array()) throw Error(clip_where, "a feature row is not a list of numbers");
      if (channels < 0) channels = static_cast<int64_t>(row.size());
      if (static_cast<int64_t>(row.size()) != channels || channels == 0)
        throw Error(clip_where, "feature rows of " + std::to_string(row.size()) +
                                    " values, expected " + std::to_string(channels));
      for (const Json& v : row) rows.push_back(v.get<float>());
    }
    for (int k = 0; k < kClipLength; ++k)
      video.row_of_frame[clip.first_frame + k] = ordinal * kClipLength + k;
    video.clips.push_back(std::move(clip));
    ++ordinal;
  }
  video.features = at::empty({ordinal * kClipLength, std::max<int64_t>(channels, 0)}, at::kFloat);
  std::copy(rows.begin(), rows.end(), video.features.data_ptr<float>());
  return video;
}

}  // namespace

std::optional<at::Tensor> TrainingVideo::feature_window(int64_t first_frame, int64_t count) const {
  const auto first = row_of_frame.find(first_frame);
  if (first == row_of_frame.end()) return std::nullopt;
  // Rows of consecutive frames are consecutive unless a rejected clip left a hole.
  for (int64_t k = 1; k < count; ++k) {
    const auto it = row_of_frame.find(first_frame + k);
    if (it == row_of_frame.end() || it->second != first->second + k) return std::nullopt;
  }
  return features.narrow(0, first->second, count);
}

int64_t TrainingSet::clip_count() const {
  int64_t n = 0;
  for (const auto& v : videos) n += static_cast<int64_t>(v.clips.size());
  return n;
}

TrainingSet read_training_set(const fs::path& json_file) {
  std::ifstream in(json_file);
  if (!in) throw Error(json_file.string(), "cannot read the training json");
  Json root;
  try {
    root = Json::parse(in);
  } catch (const Json::exception& e) {
    throw Error(json_file.string(), std::string("not valid json: ") + e.what());
  }
  if (!root.is_object()) throw Error(json_file.string(), "expected an object of videos");
  const fs::path json_dir = json_file.has_parent_path() ? json_file.parent_path() : fs::path(".");
  TrainingSet set;
  int64_t channels = -1;
  std::string feature_name;
  auto note_feature = [&](const std::string& name) {
    if (!feature_name.empty() && name != feature_name)
      throw Error(json_file.string(), "videos of different audio features: " + feature_name + ", " + name);
    feature_name = name;
  };
  for (const auto& [name, entry] : root.items()) {
    if (name == "audio_feature" && entry.is_string()) {
      note_feature(entry.get<std::string>());
      continue;
    }
    if (entry.is_object() && entry.contains("audio_feature") && entry["audio_feature"].is_string())
      note_feature(entry["audio_feature"].get<std::string>());
    TrainingVideo video = read_video(name, entry, json_dir, json_file.string(), channels);
    if (!video.clips.empty()) set.videos.push_back(std::move(video));
  }
  if (set.videos.empty()) throw Error(json_file.string(), "no clips to train on");
  std::sort(set.videos.begin(), set.videos.end(),
            [](const TrainingVideo& a, const TrainingVideo& b) { return a.name < b.name; });
  set.audio = spec_for(feature_name, channels, json_file.string());
  return set;
}

std::vector<std::string> drop_short_videos(TrainingSet& set, size_t min_clips) {
  std::vector<std::string> dropped;
  std::erase_if(set.videos, [&](const TrainingVideo& v) {
    if (v.clips.size() >= min_clips) return false;
    dropped.push_back(v.name);
    return true;
  });
  return dropped;
}

SplitSet split_heldout(const TrainingSet& set, double fraction) {
  SplitSet split{{{}, set.audio}, {{}, set.audio}};
  if (fraction <= 0) {
    split.train = set;
    return split;
  }
  const size_t n = set.videos.size();
  if (n >= 4) {
    const size_t held = std::clamp<size_t>(static_cast<size_t>(std::lround(fraction * n)), 1, n - 1);
    // Every (n / held)-th video, so the held-out videos are spread over the sorted names.
    std::vector<bool> is_held(n, false);
    for (size_t k = 0; k < held; ++k) is_held[(k * n) / held + n / (2 * held)] = true;
    for (size_t i = 0; i < n; ++i) (is_held[i] ? split.heldout : split.train).videos.push_back(set.videos[i]);
    return split;
  }
  for (const TrainingVideo& video : set.videos) {
    const size_t clips = video.clips.size();
    const size_t held = std::min(clips - 1, static_cast<size_t>(std::ceil(fraction * clips - 1e-9)));
    TrainingVideo train = video, heldout = video;
    train.clips.assign(video.clips.begin(), video.clips.end() - held);
    heldout.clips.assign(video.clips.end() - held, video.clips.end());
    // Both halves keep the whole feature table, so shifted audio windows stay available.
    if (!train.clips.empty()) split.train.videos.push_back(std::move(train));
    if (!heldout.clips.empty()) split.heldout.videos.push_back(std::move(heldout));
  }
  return split;
}

cv::Mat load_face(const fs::path& file, cv::Size size) {
  cv::Mat bgr = cv::imread(file.string(), cv::IMREAD_COLOR);
  if (bgr.empty()) throw Error(file.string(), "cannot read the face image");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  if (rgb.size() == size) return rgb;
  cv::Mat resized;
  cv::resize(rgb, resized, size, 0, 0, cv::INTER_LINEAR);
  return resized;
}

}  // namespace dinet::train
