// --generate_training_json: the published training json, read by both the published
// trainer and ours:
//   {video: {"video_clip_num": n, "clip_data_list": [{"frame_name_list": [...],
//            "frame_path_list": [...], "deep_speech_list": [[C floats] x clip_length]}],
//            "audio_feature": "deepspeech" | "mel"}}
// "deep_speech_list" keeps its published name whatever the feature; "audio_feature" is our
// addition inside each video entry (readers ignore unknown keys there; a top-level key
// would be taken for a video). Paths are absolute, so training may run from any folder.
// Features are read from `<video>_deepspeech.txt` (published) or `<video>_mel.npy`.
#include <algorithm>
#include <cstdlib>

#include "dinet/audio_features.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "prepare_steps.h"

namespace dinet::prepare {
namespace {

// The published trainers draw 6 distinct clips per sample (one source, five references);
// a video with fewer would stop the published trainer with an error.
constexpr int kMinClips = 6;

// Published key order, and numbers as float32: features are float32 and the trainers turn
// them into float tensors, so the shortest float spelling loses nothing and halves the
// file against double's 17 digits.
using Json = nlohmann::basic_json<nlohmann::ordered_map, std::vector, std::string, bool,
                                  std::int64_t, std::uint64_t, float>;

std::vector<fs::path> sorted_entries(const fs::path& dir, bool directories) {
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.front() == '.' || name.find(".tmp-") != std::string::npos) continue;
    if (directories ? entry.is_directory() : entry.is_regular_file())
      entries.push_back(entry.path());
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

bool is_image(const fs::path& file) {
  const std::string ext = file.extension().string();
  return ext == ".jpg" || ext == ".png";
}

// One video's entry; clips that cannot be used are counted in `outcome`.
Json video_entry(const PrepareParams& p, const fs::path& video_dir, StepOutcome& outcome) {
  const std::string video = video_dir.filename().string();
  const fs::path features_file = feature_path(p, video);
  const at::Tensor features = read_feature_file(features_file).contiguous();
  const float* values = features.data_ptr<float>();
  const int64_t channels = features.size(1);
  const fs::path crops_root = fs::absolute(p.crop_face_dir).lexically_normal();
  Json clips = Json::array();
  int short_features = 0, bad_clips = 0;
  for (const auto& clip_dir : sorted_entries(video_dir, true)) {
    const std::string clip = clip_dir.filename().string();
    std::vector<fs::path> frames;
    for (const auto& f : sorted_entries(clip_dir, false))
      if (is_image(f)) frames.push_back(f);
    // The published generator asserts both: clip_length frames, the first one numbered
    // clip index * clip_length.
    char* end = nullptr;
    const long clip_index = std::strtol(clip.c_str(), &end, 10);
    const long start = clip_index * p.clip_length;
    if (*end != '\0' || static_cast<int>(frames.size()) != p.clip_length ||
        std::atol(frames.front().stem().c_str()) != start) {
      ++bad_clips;
      continue;
    }
    if (start + p.clip_length > features.size(0)) {
      ++short_features;
      continue;
    }
    Json names = Json::array(), paths = Json::array(), rows = Json::array();
    for (const auto& f : frames) {
      const std::string name = video + "/" + clip + "/" + f.filename().string();
      names.push_back(name);
      paths.push_back((crops_root / name).string());
    }
    for (long row = start; row < start + p.clip_length; ++row)
      rows.push_back(std::vector<float>(values + row * channels, values + (row + 1) * channels));
    clips.push_back(Json{{"frame_name_list", std::move(names)},
                         {"frame_path_list", std::move(paths)},
                         {"deep_speech_list", std::move(rows)}});
  }
  outcome.clips = static_cast<int>(clips.size());
  if (short_features)
    outcome.reason += std::to_string(short_features) + " clips past the end of " +
                      features_file.filename().string() + " left out";
  if (bad_clips)
    outcome.reason += std::string(outcome.reason.empty() ? "" : "; ") + std::to_string(bad_clips) +
                      " clip folders without " + std::to_string(p.clip_length) +
                      " numbered frames left out";
  return Json{{"video_clip_num", clips.size()},
              {"clip_data_list", std::move(clips)},
              {"audio_feature", p.audio_feature}};
}

}  // namespace

std::vector<StepOutcome> write_training_json(const PrepareParams& p) {
  const std::string step = "generate_training_json";
  if (!fs::is_directory(p.crop_face_dir))
    throw Error(p.crop_face_dir.string(), "no face crops: run the crop_face step first");
  StepMarker crop_marker(p.crop_face_dir, "crop_face");
  std::vector<StepOutcome> outcomes;
  Json all = Json::object();
  int videos = 0, clips = 0;
  for (const auto& video_dir : sorted_entries(p.crop_face_dir, true)) {
    const std::string video = video_dir.filename().string();
    StepOutcome outcome;
    outcome.step = step;
    outcome.video = video;
    if (crop_marker.started(video)) {
      outcome.status = StepStatus::skipped;
      outcome.reason = "its face crops are unfinished: run --crop_face again";
      outcomes.push_back(outcome);
      continue;
    }
    outcome = guarded(step, video, [&] {
      Json entry = video_entry(p, video_dir, outcome);
      if (outcome.clips < kMinClips) {
        outcome.status = StepStatus::skipped;
        outcome.reason = "left out: " + std::to_string(outcome.clips) +
                         " usable clips, training needs at least " + std::to_string(kMinClips) +
                         (outcome.reason.empty() ? "" : " (" + outcome.reason + ")");
        return outcome;
      }
      all[video] = std::move(entry);
      ++videos;
      clips += outcome.clips;
      return outcome;
    });
    // Per-video lines only where something needs the user's attention.
    if (outcome.status != StepStatus::done || !outcome.reason.empty()) outcomes.push_back(outcome);
  }

  StepOutcome total;
  total.step = step;
  total.clips = clips;
  const std::string text = all.dump();
  std::error_code ec;
  if (fs::exists(p.json_path, ec) && read_file(p.json_path) == text) {
    total.status = StepStatus::skipped;
    total.reason = "already done";  // the same content: the file is left untouched
  } else {
    write_file_atomic(p.json_path, text);
    total.reason = "wrote " + p.json_path.string() + ": " + std::to_string(videos) + " videos, " +
                   std::to_string(clips) + " clips";
  }
  outcomes.push_back(total);
  return outcomes;
}

}  // namespace dinet::prepare
