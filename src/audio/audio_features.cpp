// Feature specs, the frame count every feature shares, and the one entry point that computes
// a built-in feature by name.
#include "dinet/audio_features.h"

#include "dinet/error.h"

namespace dinet {

AudioFeatureSpec audio_feature_spec(const std::string& name) {
  if (name == "deepspeech") return {name, kDeepSpeechChannels};
  if (name == "mel") return {name, kMelChannels};
  throw Error("unknown audio feature '" + name + "' (built-in features: deepspeech, mel)");
}

std::string to_string(const AudioFeatureSpec& spec) {
  return spec.name + " (" + std::to_string(spec.channels) + " channels)";
}

void require_same_feature(const AudioFeatureSpec& model, const AudioFeatureSpec& data,
                          const std::string& source) {
  if (model == data) return;
  throw Error(source, "the model was trained on " + to_string(model) + " audio features but " +
                          "the audio features given are " + to_string(data) +
                          "; compute the features the model was trained with");
}

int64_t feature_frame_count(int64_t samples_16k) {
  const int64_t mfcc = samples_16k <= 400 ? 1 : 1 + (samples_16k - 400 + 159) / 160;
  const int64_t steps = (mfcc + 1) / 2;  // every second MFCC frame
  return (steps + 1) / 2;                // every second network step
}

AudioFeatureExtractor::AudioFeatureExtractor(const AudioFeatureOptions& options)
    : spec_(audio_feature_spec(options.type)) {
  if (spec_.name != "deepspeech") return;
  if (options.deepspeech_model.empty())
    throw Error(
        "DeepSpeech features need the DeepSpeech v0.1.0 graph (output_graph.pb, from the "
        "published DINet assets), which is not redistributable and not included; pass its "
        "path, or use the built-in 'mel' feature, which needs no model");
  deepspeech_ = std::make_unique<DeepSpeech>(options.deepspeech_model, options.deepspeech_precision);
}

AudioFeatureExtractor::~AudioFeatureExtractor() = default;

const AudioFeatureSpec& AudioFeatureExtractor::spec() const { return spec_; }

at::Tensor AudioFeatureExtractor::compute(const Audio& audio) const {
  return deepspeech_ ? deepspeech_->features(audio) : mel_features(audio);
}

at::Tensor AudioFeatureExtractor::compute(const std::filesystem::path& media) const {
  // The published DeepSpeech front end keeps channel 0 of a multi-channel wav.
  const auto channels = deepspeech_ ? AudioChannels::first : AudioChannels::mix;
  return compute(load_audio(media, 16000, channels));
}

}  // namespace dinet
