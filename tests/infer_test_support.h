// What the inference tests share: small random-weight checkpoints in our layout and the
// published one, synthetic clips with exact landmarks, and checks on a result video.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "dinet/audio_features.h"
#include "dinet/checkpoint.h"
#include "dinet/evaluate.h"
#include "dinet/media.h"
#include "dinet/networks.h"
#include "dinet/synth.h"
#include "dinet/torch_file.h"
#include "test_support.h"

namespace dinet::test {

// A random generator checkpoint in the published layout; with `feature` set, plus our
// 'dinet_meta' (as src/train writes it) recording the mouth size and the feature.
inline std::filesystem::path save_random_model(const std::filesystem::path& file, int mouth,
                                               const AudioFeatureSpec& feature, bool meta = true) {
  torch::manual_seed(3);
  DINet net(3, 15, feature.channels);
  TorchValue checkpoint = published_generator_checkpoint(1, {{"net_g", module_state_dict(*net)}});
  if (meta) {
    TorchValue m = TorchValue::dict();
    m.set("trainer", "frame");
    m.set("mouth_region_size", mouth);
    m.set("audio_feature", feature.name);
    m.set("audio_channel", feature.channels);
    checkpoint.set("dinet_meta", m);
  }
  save_torch_file(file, checkpoint);
  return file;
}

struct SynthClip {
  std::filesystem::path video, csv;
};

// One synthetic talking-face clip with its exact landmark CSV, made by `dinet synth`'s library.
inline SynthClip make_synth_clip(const std::filesystem::path& dir, double seconds, int size = 192) {
  SynthOptions options;
  options.out_dir = dir / "clips";
  options.seconds = seconds;
  options.width = options.height = size;
  options.threads = 1;
  options.show_progress = false;
  synthesize_clips(options);
  return {options.out_dir / (synth_clip_name(0) + ".mp4"),
          landmark_dir_for(options.out_dir) / (synth_clip_name(0) + ".csv")};
}

// A 16 kHz tone of `seconds` (speech-like enough for the features to be finite).
// `evaluate`'s options for a synthetic clip dubbed as itself: its video copied into
// dir/results, paired with its source, the report going to dir/report.
inline dinet::EvaluateOptions self_evaluation(const std::filesystem::path& dir, double seconds) {
  const SynthClip clip = make_synth_clip(dir, seconds);
  const std::filesystem::path results = dir / "results";
  std::filesystem::create_directories(results);
  std::filesystem::copy_file(clip.video, results / clip.video.filename());
  dinet::EvaluateOptions options;
  options.result_dir = results;
  options.test_video_dir = clip.video.parent_path();
  options.output_dir = dir / "report";
  return options;
}

inline std::filesystem::path write_tone(const std::filesystem::path& file, double seconds) {
  Audio audio;
  audio.sample_rate = 16000;
  audio.samples.resize(static_cast<size_t>(seconds * 16000));
  for (size_t i = 0; i < audio.samples.size(); ++i)
    audio.samples[i] = 0.3f * std::sin(float(i) * 0.07f) * std::sin(float(i) * 0.0007f);
  write_wav(file, audio);
  return file;
}

inline std::vector<cv::Mat> read_all_frames(const std::filesystem::path& video) {
  VideoReader reader(video);
  std::vector<cv::Mat> frames;
  for (cv::Mat frame; reader.read(frame);) frames.push_back(frame.clone());
  return frames;
}

// Mean absolute difference over the pixels where `mask` is set.
inline double mean_abs_diff(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar mean = cv::mean(diff, mask);
  return (mean[0] + mean[1] + mean[2]) / 3;
}

inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(dir))
    for (const auto& entry : std::filesystem::directory_iterator(dir)) files.push_back(entry.path());
  return files;
}

}  // namespace dinet::test
