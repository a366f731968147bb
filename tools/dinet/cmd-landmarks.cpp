// dinet landmarks: 68-point landmarks of every frame of a video, written as the OpenFace CSV
// the published DINet workflow reads (instead of running OpenFace).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "commands.h"
#include "dinet/error.h"
#include "dinet/face.h"
#include "dinet/files.h"
#include "dinet/interrupt.h"
#include "dinet/media.h"
#include "dinet/progress.h"
#include "dinet/runtime.h"

namespace dinet::cli {
namespace {

struct LandmarksOptions {
  std::string video;
  std::string output;
  std::string model = default_landmark_model().string();
  int threads = 0;
  int max_gap = 10;
  int verify_interval = 10;
  bool no_smooth = false;
  bool force = false;
};

std::string describe_gaps(const std::vector<FrameRange>& gaps) {
  if (gaps.empty()) return "none";
  std::string text;
  for (size_t i = 0; i < gaps.size() && i < 10; ++i)
    text += (i ? ", " : "") + std::to_string(gaps[i].begin) + "-" + std::to_string(gaps[i].end - 1);
  if (gaps.size() > 10) text += " and " + std::to_string(gaps.size() - 10) + " more";
  return text;
}

void run_landmarks(const LandmarksOptions& o) {
  require_file(o.video, "video");
  std::filesystem::path output = o.output;
  if (output.empty()) output = std::filesystem::path(o.video).replace_extension(".csv");
  if (std::filesystem::exists(output) && !o.force)
    throw Error(output.string(), "exists (use --force to overwrite it)");

  // Ctrl-C stops between frames; no CSV is written.
  const InterruptScope interrupts("dinet landmarks");
  remove_dead_temporaries(output.parent_path().empty() ? "." : output.parent_path());

  LandmarkOptions options;
  options.threads = set_threads(o.threads);
  options.max_gap = o.max_gap;
  options.smooth = !o.no_smooth;
  options.tracker.verify_interval = o.verify_interval;
  const LandmarkModel model(o.model);

  const int64_t expected = VideoReader(o.video).info().frame_count;
  Progress progress("landmarks", expected, "frames");
  const VideoLandmarks result = detect_video_landmarks(o.video, model, options, &progress);
  progress.finish();
  if (result.track.size() == 0) throw Error(o.video, "no video frames");
  write_openface_csv(output, result.track);

  const double n = double(result.track.size());
  int64_t missing = 0;
  for (const auto& gap : result.gaps) missing += gap.size();
  std::printf("%s: %zu frames, face found on %lld (%.1f%%), %lld interpolated, %lld without a face\n",
              o.video.c_str(), result.track.size(), static_cast<long long>(result.found),
              100.0 * double(result.found) / n, static_cast<long long>(result.interpolated),
              static_cast<long long>(missing));
  std::printf("gaps longer than %d frames (first-last frame, 0-based): %s\n", o.max_gap,
              describe_gaps(result.gaps).c_str());
  if (options.smooth)
    std::printf("jitter (nose and eye corners, mean |second difference|): %.2f px -> %.2f px smoothed\n",
                result.jitter_before, result.jitter_after);
  std::printf("wrote %s\n", output.string().c_str());
}

}  // namespace

void setup_landmarks(CLI::App& app) {
  auto options = std::make_shared<LandmarksOptions>();
  auto* verb = app.add_subcommand(
      "landmarks",
      "Find 68-point face landmarks in every frame of a video (dlib, tracked and smoothed) and "
      "write them as an OpenFace CSV, the layout the published DINet workflow reads");
  verb->add_option("video", options->video, "input video (any frame rate; read at 25 fps)")->required();
  verb->add_option("-o,--output", options->output,
                   "output CSV (default: the video's path with the extension .csv)");
  verb->add_option("--landmark_model", options->model,
                   "dlib 68-point shape predictor (default: " + options->model + ")");
  verb->add_option("--max_gap", options->max_gap,
                   "runs of at most this many frames without a face are interpolated; longer "
                   "ones are reported and written with success 0 (default: 10 frames)")
      ->check(CLI::NonNegativeNumber);
  verb->add_option("--verify_interval", options->verify_interval,
                   "frames between face-detector checks of the tracked face (default: 10)")
      ->check(CLI::PositiveNumber);
  verb->add_flag("--no_smooth", options->no_smooth,
                 "write the tracked landmarks without temporal smoothing");
  verb->add_flag("--force", options->force, "overwrite the output CSV if it exists");
  add_threads_option(verb, options->threads);
  verb->callback([options] { run_landmarks(*options); });
}

}  // namespace dinet::cli
