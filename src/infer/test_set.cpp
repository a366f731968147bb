// The published fork's test-set run: the first x videos of the test folder, each dubbed with
// its own audio (or one shared audio), a failing video recorded while the rest go on.
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <set>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/infer.h"
#include "dinet/interrupt.h"

namespace dinet {
namespace fs = std::filesystem;
namespace {

bool is_video(const fs::path& p) {
  static const std::set<std::string> extensions = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".flv"};
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return extensions.count(ext) > 0;
}

std::vector<fs::path> first_videos(const fs::path& dir, int count) {
  if (!fs::is_directory(dir)) throw Error(dir.string(), "no such folder (the test videos go there)");
  std::vector<fs::path> videos;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && is_video(entry.path())) videos.push_back(entry.path());
  if (videos.empty()) throw Error(dir.string(), "no videos");
  std::sort(videos.begin(), videos.end());
  videos.resize(std::min<size_t>(videos.size(), static_cast<size_t>(count)));
  return videos;
}

// LibTorch messages carry a C++ backtrace after the first line.
std::string one_line(const std::exception& e) {
  std::string message = e.what();
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) message = c10->what_without_backtrace();
  return message.substr(0, message.find('\n'));
}

void write_summary(const TestSetSummary& summary, const TestSetOptions& options, const std::string& settings) {
  nlohmann::json videos = nlohmann::json::array();
  for (const TestSetEntry& e : summary.entries) {
    nlohmann::json v = {{"video", e.video}, {"status", e.ok ? "ok" : "failed"}};
    if (e.ok) {
      v["output"] = e.output.string();
      v["frames"] = e.frames;
      v["seconds"] = e.seconds;
      v["fps"] = e.fps;
    } else {
      v["error"] = e.error;
    }
    videos.push_back(v);
  }
  const nlohmann::json json = {{"model", options.infer.model_path.string()},
                               {"settings", settings},
                               {"videos", videos},
                               {"failed", summary.failed()}};
  write_file_atomic(summary.summary_json, json.dump(2) + "\n");
}

}  // namespace

int TestSetSummary::failed() const {
  return static_cast<int>(std::count_if(entries.begin(), entries.end(), [](const auto& e) { return !e.ok; }));
}

TestSetSummary run_test_set(const TestSetOptions& options) {
  if (options.process_num < 1) throw Error("--process_num must be at least 1");
  const fs::path video_dir = options.root / "test_data" / "split_video_25fps";
  const fs::path landmark_dir = options.root / "test_data" / "split_video_25fps_landmark_openface";
  const fs::path res_dir = options.res_video_dir.empty() ? options.root / "inference_result" : options.res_video_dir;
  const std::vector<fs::path> videos = first_videos(video_dir, options.process_num);
  if (!options.audio_path.empty()) require_file(options.audio_path, "driving audio");
  if (!options.infer.audio_feature_path.empty())
    throw Error("--audio_feature_path: one feature file cannot drive a test set; let the features be computed");

  Dubber dubber(options.infer);
  TestSetSummary summary;
  summary.summary_json = res_dir / "inference_summary.json";
  for (size_t k = 0; k < videos.size(); ++k) {
    const fs::path& video = videos[k];
    TestSetEntry entry;
    entry.video = video.filename().string();
    DubJob job;
    job.source_video = video;
    job.driving_audio = options.audio_path.empty() ? video : options.audio_path;
    const fs::path csv = landmark_dir / (video.stem().string() + ".csv");
    if (fs::exists(csv)) job.landmark_csv = csv;
    job.output = published_result_path(res_dir, video);
    job.label = "[" + std::to_string(k + 1) + "/" + std::to_string(videos.size()) + "] " + entry.video;
    try {
      const DubResult result = dubber.dub(job);
      entry.ok = true;
      entry.output = result.output;
      entry.frames = result.frames;
      entry.seconds = result.seconds;
      entry.fps = result.fps();
    } catch (const Interrupted&) {
      // The videos already dubbed stay; no summary, which would list the set as if complete.
      throw;
    } catch (const std::exception& e) {
      entry.error = one_line(e);
      std::fprintf(stderr, "dinet: %s failed: %s\n", entry.video.c_str(), entry.error.c_str());
    }
    summary.entries.push_back(entry);
  }
  fs::create_directories(res_dir);
  write_summary(summary, options, dubber.describe());
  return summary;
}

}  // namespace dinet
