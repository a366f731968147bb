#include "infer/model.h"

#include "dinet/crop.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/torch_file.h"

namespace dinet::infer {
namespace fs = std::filesystem;

LoadedModel load_model(const fs::path& file, int mouth_region_size) {
  require_file(file, "checkpoint");
  LoadedModel model;
  // Parsed for 'dinet_meta' first, so a truncated file is reported before anything else.
  const TorchValue top = load_torch_file(file);
  const TorchValue* meta = top.kind() == TorchValue::Kind::dict ? top.find("dinet_meta") : nullptr;
  model.net = load_dinet(file);
  model.net->eval();
  const int weights_channels = static_cast<int>(model.net->audio_channel());
  if (meta) {
    model.has_meta = true;
    model.mouth_region_size = static_cast<int>(meta->at("mouth_region_size").as_int());
    model.feature.name = meta->at("audio_feature").as_string();
    const TorchValue* channels = meta->find("audio_channel");
    model.feature.channels = channels ? static_cast<int>(channels->as_int()) : weights_channels;
    if (mouth_region_size > 0 && mouth_region_size != model.mouth_region_size)
      throw Error(file.string(), "trained at mouth_region_size " + std::to_string(model.mouth_region_size) +
                                     ", not the " + std::to_string(mouth_region_size) + " asked for");
  } else {
    // The published checkpoints: DeepSpeech features and, unless told otherwise, mouth 256.
    model.mouth_region_size = mouth_region_size > 0 ? mouth_region_size : 256;
    model.feature = {weights_channels == kDeepSpeechChannels ? "deepspeech" : "external", weights_channels};
  }
  if (model.feature.channels != weights_channels)
    throw Error(file.string(), "its metadata says " + to_string(model.feature) + " but the weights take " +
                                   std::to_string(weights_channels) + " audio channels");
  if (DINet::Impl::mouth_region_for_face(face_size(model.mouth_region_size).height,
                                          face_size(model.mouth_region_size).width) != model.mouth_region_size)
    throw Error(file.string(), "mouth_region_size " + std::to_string(model.mouth_region_size) +
                                   " is not a multiple of 32 (64, 128, 256)");
  return model;
}

FeatureSource::FeatureSource(const InferOptions& options, const LoadedModel& model, const fs::path& model_file)
    : channels_(model.feature.channels), model_file_(model_file.string()) {
  std::string type = options.audio_feature;
  if (!options.deepspeech_model.empty()) {
    if (!type.empty() && type != "deepspeech")
      throw Error("--deepspeech_model computes deepspeech features, but --audio_feature " + type + " was given");
    type = "deepspeech";
  }
  if (!type.empty()) {
    require_same_feature(model.feature, audio_feature_spec(type), model_file_);
  } else if (options.audio_feature_path.empty()) {
    type = model.feature.name;  // the checkpoint's own feature
    if (type == "external")
      throw Error(model_file_, "trained on features computed elsewhere (" + std::to_string(channels_) +
                                   " channels): give them with --audio_feature_path");
  }
  if (type.empty()) return;  // ready feature files only
  AudioFeatureOptions feature{type, options.deepspeech_model,
                              deepspeech_precision(options.deepspeech_precision)};
  if (type == "deepspeech" && feature.deepspeech_model.empty()) {
    if (!fs::exists(kDefaultDeepSpeechGraph))
      throw Error(model_file_, "trained on " + to_string(model.feature) +
                                   " features: give the DeepSpeech graph with --deepspeech_model "
                                   "output_graph.pb, or ready features with --audio_feature_path");
    feature.deepspeech_model = kDefaultDeepSpeechGraph;
  }
  if (!feature.deepspeech_model.empty()) require_file(feature.deepspeech_model, "DeepSpeech graph");
  extractor_ = std::make_unique<AudioFeatureExtractor>(feature);
}

FeatureSource::~FeatureSource() = default;

at::Tensor FeatureSource::features(const fs::path& audio, const fs::path& feature_file) const {
  at::Tensor rows;
  if (!feature_file.empty()) {
    require_file(feature_file, "audio feature file");
    rows = read_feature_file(feature_file, std::nullopt, channels_);
    if (rows.size(0) == 0) throw Error(feature_file.string(), "no feature rows");
    return rows;
  }
  if (!extractor_) throw Error("no audio features: give --audio_feature_path for this video");
  require_file(audio, "driving audio");
  // DeepSpeech's published front end reads channel 0 of the file; mel mixes the channels.
  const bool deepspeech = extractor_->spec().name == "deepspeech";
  const Audio sound = load_audio(audio, 16000, deepspeech ? AudioChannels::first : AudioChannels::mix);
  if (sound.samples.empty()) throw Error(audio.string(), "the audio is empty (zero length)");
  rows = extractor_->compute(sound);
  if (rows.size(1) != channels_)
    throw Error(audio.string(), "its " + extractor_->spec().name + " features have " + std::to_string(rows.size(1)) +
                                    " channels, the model takes " + std::to_string(channels_));
  return rows;
}

std::string FeatureSource::describe() const {
  return extractor_ ? to_string(extractor_->spec()) : "ready features (" + std::to_string(channels_) + " channels)";
}

}  // namespace dinet::infer
