// `dinet prepare`: the published DINet data-processing steps (data_processing.py plus the
// HDTF splitting, 25 fps conversion and landmark detection it leaves to the user) as one
// resumable, parallel run that writes the published layout:
//
//   <root>/training_data/split_video_25fps/<video>.mp4                 source videos
//   <root>/training_data/split_video_25fps_landmark_openface/<video>.csv
//   <root>/training_data/split_video_25fps_frame/<video>/<frame 6 digits>.jpg   (optional)
//   <root>/training_data/split_video_25fps_audio/<video>.wav          16 kHz mono
//   <root>/training_data/split_video_25fps_deepspeech/<video>_deepspeech.txt  (or _mel.txt)
//   <root>/training_data/split_video_25fps_crop_face/<video>/<clip 6 digits>/<frame 6 digits>.jpg
//   <root>/training_data/training_json.json
//
// Each step of each video leaves a marker, written last and atomically, in a hidden sibling
// of its output folder (`.<folder name>.done/<video>.<step>.json`, beside the folder rather
// than inside it, so a listing of the output folder shows only videos, as the published
// scripts expect). A re-run skips videos whose marker matches the settings; an interrupted
// video has no marker and is redone from a clean start.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace dinet {

struct PrepareSteps {
  bool split_hdtf = false;             // cut raw HDTF videos by *_annotion_time.txt
  bool resample_25fps = false;         // 25 fps copies of raw videos into source_video_dir
  bool detect_landmarks = false;       // <video>.csv where none exists (never overwrites)
  bool extract_video_frame = false;    // every full frame as JPEG (published step 1)
  bool extract_audio = false;          // <video>.wav, 16 kHz mono
  bool extract_audio_feature = false;  // --extract_deep_speech: feature rows, 25 per second
  bool crop_face = false;              // 9-frame clips of native-size face crops
  bool generate_training_json = false;
  bool any() const;
};

struct PrepareParams {
  PrepareSteps steps;
  // --all: every step in order; split_hdtf and resample_25fps only run when their input
  // folders exist (a user with ready 25 fps videos has neither).
  bool all = false;

  std::filesystem::path hdtf_video_dir;       // raw HDTF downloads, e.g. Radio11.mp4
  std::filesystem::path hdtf_annotation_dir;  // *_annotion_time.txt (and *_crop_wh.txt)
  std::filesystem::path raw_video_dir;        // videos at any frame rate
  std::filesystem::path source_video_dir, openface_landmark_dir, video_frame_dir, audio_dir,
      deep_speech_dir, crop_face_dir, json_path, deep_speech_model;

  int clip_length = 9;                       // frames per training clip
  std::string audio_feature = "deepspeech";  // "deepspeech" (29 per frame) or "mel"
  std::string deepspeech_precision = "fp32";  // "bf16", "int8": dinet::DeepSpeechPrecision
  std::string image_format = "jpg";          // crops: "jpg" or "png"
  int jpeg_quality = 90;                     // 0..100, for jpg crops
  int hdtf_size = 512;                       // side of the square HDTF face crops (*_crop_wh.txt)
  uint64_t seed = 0;                         // crop scales: one random scale per clip
  int jobs = 0;                              // videos in parallel; <= 0: every core
  bool force = false;                        // redo steps already done (user files still kept)
  bool show_progress = true;
  // Set from a signal handler: running videos stop between frames, leave no marker, and
  // the summary says the run was interrupted.
  const std::atomic<bool>* cancel = nullptr;
};

// The published defaults under `root` (the published "./asserts").
PrepareParams default_prepare_params(const std::filesystem::path& root = "./asserts");

enum class StepStatus { done, skipped, failed };

struct StepOutcome {
  std::string step;   // "crop_face", "extract_audio", ... as the flags are named
  std::string video;  // video name without extension; empty for the training json
  StepStatus status = StepStatus::done;
  std::string reason;  // why it failed or was skipped, or a note on a done step
  int64_t frames = 0;
  int clips = 0;           // crop_face / training json: clips written
  int clips_rejected = 0;  // face size changed too much within the clip (published rule)
};

struct PrepareSummary {
  std::vector<StepOutcome> outcomes;
  int64_t frames = 0;  // frames decoded by this run
  double seconds = 0;
  bool interrupted = false;
  // Every output folder (and the json) with the bytes its files occupy on disk.
  std::vector<std::pair<std::filesystem::path, uint64_t>> disk_usage;

  int count(StepStatus status) const;
  // Distinct videos with at least one failed step.
  std::vector<std::string> failed_videos() const;
  uint64_t disk_bytes() const;
};

// Runs the requested steps. Per-video failures are recorded in the summary, never thrown;
// bad settings or missing input folders throw dinet::Error before any work starts.
PrepareSummary run_prepare(const PrepareParams& params);

// The closing report: counts, every failure and skip reason, disk used, speed.
std::string format_summary(const PrepareSummary& summary);

}  // namespace dinet
