// Internal to `dinet prepare`: the per-video steps, their markers and the parallel runner.
// run_prepare (prepare.cpp) orders the steps; each step file does one job.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dinet/audio_features.h"
#include "dinet/face.h"
#include "dinet/prepare.h"
#include "dinet/progress.h"

namespace dinet::prepare {

namespace fs = std::filesystem;

// ---- markers (prepare_state.cpp) ------------------------------------------------------

// "This step of this video is complete, made with these settings": a small json file in
// `.<folder>.done/` beside the step's output folder, written atomically after the outputs.
class StepMarker {
 public:
  StepMarker(const fs::path& output_dir, std::string step);
  fs::path path(const std::string& video) const;
  // True when the marker exists and was written with exactly `settings`.
  bool matches(const std::string& video, const nlohmann::json& settings) const;
  bool exists(const std::string& video) const;
  // "Started": an output without a done marker but with this one is our unfinished work.
  void begin(const std::string& video) const;
  bool started(const std::string& video) const;
  // Writes the done marker and drops the started one.
  void finish(const std::string& video, const nlohmann::json& settings) const;
  void remove(const std::string& video) const;

 private:
  fs::path started_path(const std::string& video) const;
  fs::path dir_;
  std::string step_;
};

// What to do with one step of one video.
enum class Plan {
  run,           // not done, unfinished, made with other settings, or --force on our output
  skip_done,     // our marker matches the settings and the output is there
  skip_foreign,  // the output exists and we did not write it: the user's, never touched
};
// `output` is the step's file, or its folder (counted as present when not empty).
Plan plan_step(const StepMarker& marker, const std::string& video, const nlohmann::json& settings,
               const fs::path& output, bool force);
// The outcome of a skipped step, with the reason a user reads in the summary.
StepOutcome skipped(const std::string& step, const std::string& video, Plan plan,
                    const fs::path& output);

// Removes what an interrupted run left of `video` in `dir`: the folder `dir/<video>` (frames,
// crops) when `whole_folder`, and AtomicFile temporaries named `<stem>.tmp-*`.
void clean_partial(const fs::path& dir, const std::string& stem, bool whole_folder);

// ---- shared run state -------------------------------------------------------------------

struct RunContext {
  explicit RunContext(const PrepareParams& p) : params(p) {}
  const PrepareParams& params;
  Progress* progress = nullptr;  // counts frames; may be null
  std::atomic<int64_t> frames{0};
  std::atomic<int> videos_done{0};
  int videos_total = 0;
  void check_cancel() const;  // throws Interrupted
  void add_frames(int64_t n);
  void video_finished();
  // dlib's shape predictor, loaded on first use (a second, 100 MB) and shared by all jobs,
  // so a run whose videos all have landmark CSVs never loads it.
  const LandmarkModel& landmark_model();

 private:
  std::once_flag model_once_;
  std::unique_ptr<LandmarkModel> model_;
};

// Thrown between frames when the user pressed Ctrl-C.
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted"; }
};

// Video files of a folder (mp4, mov, mkv, avi, webm, m4v), sorted by name. Two videos with
// one name ("a.mp4", "a.mov") would share every output: that throws dinet::Error.
std::vector<fs::path> list_videos(const fs::path& dir);
std::string video_name(const fs::path& file);  // file name without extension

// Runs task(i) for i in [0, count) on `jobs` threads, in order of i as threads free up.
void run_parallel(size_t count, int jobs, const std::function<void(size_t)>& task);

// Runs `body` and turns an exception into a failed outcome (Interrupted is rethrown).
StepOutcome guarded(const std::string& step, const std::string& video,
                    const std::function<StepOutcome()>& body);

// ---- steps ------------------------------------------------------------------------------

// hdtf_split.cpp: one raw HDTF video -> <source_video_dir>/<name>_<clip index>.mp4.
struct HdtfVideo {
  std::string name;  // "Radio11" (annotation file name without .mp4)
  fs::path file;     // the raw video found for it
  std::vector<std::pair<double, double>> intervals;      // seconds
  std::vector<std::optional<std::array<int, 4>>> crops;  // x, w, y, h per clip, if given
};
std::vector<HdtfVideo> read_hdtf_annotations(const fs::path& annotation_dir,
                                             const fs::path& video_dir);
StepOutcome split_hdtf_video(RunContext& ctx, const HdtfVideo& video);

// prepare_resample.cpp: a raw video -> a 25 fps copy in source_video_dir.
StepOutcome resample_video(RunContext& ctx, const fs::path& file);

// prepare_video.cpp: one decoding pass for extract_video_frame, detect_landmarks and
// crop_face (whichever are requested and not done).
std::vector<StepOutcome> prepare_video(RunContext& ctx, const fs::path& file);
// Whether prepare_video will decode this video (for the progress bar's total).
bool video_pass_needed(const PrepareParams& params, const fs::path& file);

// prepare_audio.cpp: extract_audio and the audio feature, both from the source video's own
// audio stream. `features` is loaded once and shared (null when the feature step is off).
std::vector<StepOutcome> prepare_audio(RunContext& ctx, const fs::path& file,
                                       const AudioFeatureExtractor* features);
// Whether the feature of this video is still to be computed (so the model is needed).
bool feature_needed(const PrepareParams& params, const fs::path& file);

// training_json.cpp: the published training json from the crops and features.
std::vector<StepOutcome> write_training_json(const PrepareParams& params);

// The feature file of a video: `<video>_deepspeech.txt` as published; `<video>_mel.npy` for
// mel, whose 320 channels would take 8 KB per frame as savetxt text.
fs::path feature_path(const PrepareParams& params, const std::string& video);

// Bytes the regular files under `path` occupy on disk (allocated blocks, as `du`).
uint64_t disk_usage(const fs::path& path);

}  // namespace dinet::prepare
