#include "train/clip_checkpoints.h"

#include <cctype>
#include <cstdio>
#include <optional>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/torch_file.h"
#include "train/optimizer_state.h"

namespace dinet::train {
namespace fs = std::filesystem;
namespace {

// The file parsed, or an error that names the option.
TorchValue open_checkpoint(const fs::path& file, const std::string& option) {
  std::error_code ec;
  if (file.empty()) throw Error(option, "required");
  if (!fs::is_regular_file(file, ec)) throw Error(option + " " + file.string(), "no such file");
  return load_torch_file(file);
}

// The state dict at state_dict/<net>, or the whole file when it is a bare state dict.
StateDict network_state(const TorchValue& top, const std::string& net, const std::string& source) {
  if (top.kind() != TorchValue::Kind::dict) throw Error(source, "not a checkpoint (" + top.type_name() + ")");
  if (const TorchValue* nets = top.find("state_dict")) {
    if (const TorchValue* state = nets->kind() == TorchValue::Kind::dict ? nets->find(net) : nullptr)
      return state_dict_from_value(*state, source);
    throw Error(source, "no state_dict/" + net);
  }
  return state_dict_from_value(top, source);
}

// Input channels of the convolution weight `key`: the audio feature a network was built for.
int64_t input_channels(const StateDict& state, const std::string& key, const std::string& source,
                       const std::string& network) {
  for (const auto& [name, tensor] : state)
    if (name == key && tensor.dim() >= 3) return tensor.size(1);
  throw Error(source, "no " + key + ": not a " + network + " checkpoint");
}

void require_channels(int64_t channels, const AudioFeatureSpec& audio, const std::string& source) {
  if (channels != audio.channels)
    throw Error(source, "built for " + std::to_string(channels) + " audio feature channels; the training data has " +
                            std::to_string(audio.channels) + " (" + audio.name + ")");
}

// A published file records no mouth size, but the released ones say it in their names
// (syncnet_256mouth.pth, clip_training_DINet_256mouth.pth): a different size is refused.
void check_named_mouth_size(const fs::path& file, const std::string& source, int64_t mouth_region_size) {
  const std::string stem = file.stem().string();
  const size_t at = stem.rfind("mouth");
  size_t first = at;
  while (first != std::string::npos && first > 0 && std::isdigit(static_cast<unsigned char>(stem[first - 1])))
    --first;
  if (at == std::string::npos || first == at) {
    std::fprintf(stderr, "dinet train clip: %s has no dinet_meta: its mouth size is not checked\n", file.c_str());
    return;
  }
  const int64_t named = std::stoll(stem.substr(first, at - first));
  if (named != mouth_region_size)
    throw Error(source, "named for mouth_region_size " + std::to_string(named) + " (a published file), this run uses " +
                            std::to_string(mouth_region_size));
}


}  // namespace

void save_clip_checkpoint(const fs::path& file, ClipStep& step, const CheckpointMeta& meta, double lr_g,
                          double lr_dI, double lr_dV) {
  TorchValue optimizer = TorchValue::dict();
  optimizer.set("net_g", adam_state_value(step.optimizer_g(), lr_g));
  optimizer.set("net_dI", adam_state_value(step.optimizer_dI(), lr_dI));
  optimizer.set("net_dV", adam_state_value(step.optimizer_dV(), lr_dV));
  TorchValue checkpoint = published_generator_checkpoint(meta.epoch + 1,
                                                         {{"net_g", checkpoint_weights(*step.generator())},
                                                          {"net_dI", checkpoint_weights(*step.frame_discriminator())},
                                                          {"net_dV", checkpoint_weights(*step.clip_discriminator())}},
                                                         std::move(optimizer));
  checkpoint.set("dinet_meta", meta_value(meta));
  save_torch_file(file, checkpoint);
}

CheckpointMeta load_clip_checkpoint(const fs::path& file, ClipStep& step, int64_t mouth_region_size,
                                    const AudioFeatureSpec& audio) {
  const std::string source = file.string();
  const TorchValue value = load_torch_file(file);
  const auto ours = read_meta(value, source, {"clip"}, mouth_region_size, audio);
  // A published clip checkpoint: the schedule is assumed to have started at epoch 1.
  CheckpointMeta meta = ours ? *ours : published_meta(value, "clip", mouth_region_size, audio);
  const StateDict g = network_state(value, "net_g", source);
  require_channels(input_channels(g, "audio_encoder.0.conv.weight", source, "DINet"), audio, source);
  load_state_dict(*step.generator(), g, source);
  load_state_dict(*step.frame_discriminator(), network_state(value, "net_dI", source), source);
  load_state_dict(*step.clip_discriminator(), network_state(value, "net_dV", source), source);
  if (const TorchValue* optimizer = value.find("optimizer")) {
    load_adam_state(step.optimizer_g(), optimizer->at("net_g"), source + ": optimizer net_g");
    load_adam_state(step.optimizer_dI(), optimizer->at("net_dI"), source + ": optimizer net_dI");
    load_adam_state(step.optimizer_dV(), optimizer->at("net_dV"), source + ": optimizer net_dV");
  }
  if (meta.grad_scale > 0) step.scaler().restore(meta.grad_scale, meta.grad_growth_tracker);
  return meta;
}

DINet load_start_generator(const fs::path& file, const std::string& option, int64_t mouth_region_size,
                           const AudioFeatureSpec& audio) {
  const std::string source = option + " " + file.string();
  const TorchValue value = open_checkpoint(file, option);
  if (!read_meta(value, source, {"frame", "clip"}, mouth_region_size, audio))
    check_named_mouth_size(file, source, mouth_region_size);
  const StateDict state = network_state(value, "net_g", source);
  require_channels(input_channels(state, "audio_encoder.0.conv.weight", source, "DINet generator"), audio, source);
  DINet net(3, 15, audio.channels);
  load_state_dict(*net, state, source);
  return net;
}

SyncNet load_sync_loss_network(const fs::path& file, const std::string& option, int64_t mouth_region_size,
                               const AudioFeatureSpec& audio) {
  const std::string source = option + " " + file.string();
  const TorchValue value = open_checkpoint(file, option);
  if (!read_meta(value, source, {"sync"}, mouth_region_size, audio))
    check_named_mouth_size(file, source, mouth_region_size);
  const StateDict state = network_state(value, "net", source);
  require_channels(input_channels(state, "audio_encoder.audio_conv.0.conv.weight", source, "SyncNet"), audio, source);
  SyncNet net(15, audio.channels, 128);
  load_state_dict(*net, state, source);
  return net;
}

}  // namespace dinet::train
