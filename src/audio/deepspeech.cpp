// dinet::DeepSpeech: the published feature pipeline, front end to every second logit row.
#include "audio/deepspeech_network.h"
#include "dinet/audio_features.h"
#include "dinet/error.h"

namespace dinet {
namespace {
constexpr int64_t kInputs = 494;  // 26 MFCC x (9 + 1 + 9) frames: what the front end makes
}

struct DeepSpeech::Impl {
  Impl(const std::filesystem::path& file, DeepSpeechPrecision precision)
      : network(deepspeech::read_graph(file), file.string(), precision) {
    if (network.inputs() != kInputs || network.outputs() != kDeepSpeechChannels)
      throw Error(file.string(), "this DeepSpeech network maps " +
                                     std::to_string(network.inputs()) + " inputs to " +
                                     std::to_string(network.outputs()) +
                                     " outputs; DeepSpeech v0.1.0 maps 494 to 29");
  }
  deepspeech::Network network;
};

DeepSpeechPrecision deepspeech_precision(const std::string& name) {
  if (name == "fp32") return DeepSpeechPrecision::fp32;
  if (name == "bf16") return DeepSpeechPrecision::bf16;
  if (name == "int8") return DeepSpeechPrecision::int8;
  throw Error("DeepSpeech precision '" + name +
              "': use fp32 (the published features), bf16 or int8");
}

const char* to_string(DeepSpeechPrecision precision) {
  switch (precision) {
    case DeepSpeechPrecision::bf16:
      return "bf16";
    case DeepSpeechPrecision::int8:
      return "int8";
    case DeepSpeechPrecision::fp32:
      break;
  }
  return "fp32";
}

DeepSpeech::DeepSpeech(const std::filesystem::path& graph_file, DeepSpeechPrecision precision)
    : impl_(std::make_unique<Impl>(graph_file, precision)) {}
DeepSpeech::~DeepSpeech() = default;
DeepSpeech::DeepSpeech(DeepSpeech&&) noexcept = default;
DeepSpeech& DeepSpeech::operator=(DeepSpeech&&) noexcept = default;

at::Tensor DeepSpeech::logits(const at::Tensor& input_vectors) const {
  return impl_->network.forward(input_vectors);
}

at::Tensor DeepSpeech::features(const Audio& audio) const {
  // The published code keeps logits[::2]: 50 network steps per second -> 25 rows.
  return impl_->network.forward(deepspeech_input_vectors(deepspeech_mfcc(deepspeech_pcm(audio))),
                                2);
}

std::string DeepSpeech::describe() const { return impl_->network.describe(); }

}  // namespace dinet
