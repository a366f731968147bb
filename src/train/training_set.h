// The prepared training data as the trainers see it: videos cut into 9-frame clips, each
// with its 9 face crops (native size, resized at load time) and 9 audio feature rows, read
// from the published training_json.json.
#pragma once

#include <ATen/Tensor.h>
#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dinet/audio_features.h"

namespace dinet::train {

inline constexpr int kClipLength = 9;

struct TrainingClip {
  std::array<std::filesystem::path, kClipLength> frames;  // face crops
  int64_t first_frame = 0;  // the video frame number of frames[0]
  int64_t first_row = 0;    // its 9 feature rows in TrainingVideo::features
};

inline constexpr int kLipMeasures = 2;  // lip opening and width (lip_shapes.h)

struct TrainingVideo {
  std::string name;
  std::vector<TrainingClip> clips;
  at::Tensor features;  // (rows, C) float32, the feature rows of every clip read
  // Video frame number -> feature row, for audio windows that straddle clips.
  std::unordered_map<int64_t, int64_t> row_of_frame;
  // Per video frame: lip opening and width, standardised (lip_shapes.h); NaN where the face
  // was not found. Empty unless the sync trainer attached them.
  std::vector<std::array<float, kLipMeasures>> lip_shape;

  // Feature rows of `count` consecutive video frames from `first_frame`, (count, C); nullopt
  // when any of those frames is not in a clip.
  std::optional<at::Tensor> feature_window(int64_t first_frame, int64_t count) const;
};

struct TrainingSet {
  std::vector<TrainingVideo> videos;
  AudioFeatureSpec audio;  // "deepspeech" (29), "mel" (320) or "external"
  int64_t clip_count() const;
};

// Reads training_json.json. Relative crop paths are taken from the current directory as the
// published trainer does, else from the json's folder; Windows separators are accepted.
// "audio_feature" (ours, inside each video entry, or at the top level) names the feature;
// without it 29 channels mean DeepSpeech. A frame's number is read from its file name
// (000123.jpg), else clips are taken as consecutive. Throws dinet::Error naming the file and
// the entry for malformed json, clips without 9 frames or 9 feature rows, or mixed channel
// counts.
TrainingSet read_training_set(const std::filesystem::path& json_file);

// Drops videos with fewer than `min_clips` clips (the frame recipe draws 6 distinct clips);
// returns the names dropped.
std::vector<std::string> drop_short_videos(TrainingSet& set, size_t min_clips);

// Splits off evaluation data: round(fraction * videos) whole videos (at least 1 when the
// fraction is positive), spread over the name-sorted list so the choice is reproducible;
// with fewer than 4 videos, the last ceil(fraction * clips) clips of each video instead.
// A fraction of 0 returns an empty held-out set.
struct SplitSet {
  TrainingSet train, heldout;
};
SplitSet split_heldout(const TrainingSet& set, double fraction);

// A crop as RGB uint8, resized (bilinear, as cv2.resize) to `size` (width x height).
// Throws dinet::Error naming the file when it cannot be read.
cv::Mat load_face(const std::filesystem::path& file, cv::Size size);

}  // namespace dinet::train
