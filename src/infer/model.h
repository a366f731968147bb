// What inference needs from a checkpoint, and the audio features that fit it. Everything
// here is checked before a video is touched: a model trained on one audio feature given
// another fails at once, naming the checkpoint or the feature file.
#pragma once

#include <ATen/Tensor.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "dinet/audio_features.h"
#include "dinet/infer.h"
#include "dinet/networks.h"

namespace dinet::infer {

struct LoadedModel {
  DINet net{nullptr};
  int mouth_region_size = 0;
  AudioFeatureSpec feature;  // what it was trained with
  bool has_meta = false;     // our checkpoints record mouth size and feature; published ones do not
};

// A generator checkpoint: ours ('dinet_meta' gives the mouth size and the feature) or a
// published one (DeepSpeech, mouth 256 unless `mouth_region_size` > 0 says otherwise).
LoadedModel load_model(const std::filesystem::path& file, int mouth_region_size);

// Computes (or reads) the driving audio's features for one model.
class FeatureSource {
 public:
  // Throws dinet::Error when the options ask for features the model was not trained with,
  // or when a feature the model needs cannot be computed (no DeepSpeech graph).
  FeatureSource(const InferOptions& options, const LoadedModel& model, const std::filesystem::path& model_file);
  ~FeatureSource();

  // (frames, channels) float32. `feature_file` (a ready .txt / .npy) wins over computing.
  // Throws dinet::Error naming the file for missing or empty audio and for a feature file
  // whose channel count is not the model's.
  at::Tensor features(const std::filesystem::path& audio, const std::filesystem::path& feature_file) const;
  std::string describe() const;

 private:
  int channels_;
  std::string model_file_;
  std::unique_ptr<AudioFeatureExtractor> extractor_;  // null: only ready files can be used
};

// The published default place of the DeepSpeech graph.
inline const std::filesystem::path kDefaultDeepSpeechGraph = "./asserts/output_graph.pb";

}  // namespace dinet::infer
