// Networks built from checkpoint files: the layouts of reference section 4, channel counts
// taken from the stored weights.
#include <algorithm>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/networks.h"
#include "dinet/torch_file.h"

namespace dinet {
namespace {

using KeyPath = std::vector<std::string>;

std::string joined(const KeyPath& path) {
  std::string text;
  for (const std::string& key : path) text += (text.empty() ? "" : "/") + key;
  return text;
}

// The value at `path` inside nested dicts, or nullptr.
const TorchValue* find_path(const TorchValue& top, const KeyPath& path) {
  const TorchValue* value = &top;
  for (const std::string& key : path) {
    if (value->kind() != TorchValue::Kind::dict) return nullptr;
    value = value->find(key);
    if (!value) return nullptr;
  }
  return value;
}

// The state dict at the first of `paths` the file holds, else the whole file when it is a
// bare state dict. The file is parsed once.
StateDict read_network_state(const std::filesystem::path& file, const std::vector<KeyPath>& paths) {
  require_file(file, "checkpoint");
  const TorchValue top = load_torch_file(file);
  for (const KeyPath& path : paths)
    if (const TorchValue* value = find_path(top, path)) return state_dict_from_value(*value, file.string());
  const TorchValue* nets = find_path(top, {"state_dict"});
  if (top.kind() == TorchValue::Kind::dict && !nets) return state_dict_from_value(top, file.string());
  std::string tried, held;
  for (const KeyPath& path : paths) tried += (tried.empty() ? "" : " or ") + joined(path);
  if (nets && nets->kind() == TorchValue::Kind::dict)
    for (const auto& net : nets->entries()) held += (held.empty() ? "" : ", ") + net.key.repr();
  throw Error(file.string(), "no state dict at " + tried +
                                 (held.empty() ? "" : " (its state_dict holds " + held + ")"));
}

const at::Tensor& entry(const StateDict& state, const std::string& key,
                        const std::filesystem::path& file, const std::string& network) {
  auto it = std::find_if(state.begin(), state.end(), [&](const auto& kv) { return kv.first == key; });
  if (it == state.end()) throw Error(file.string(), "no " + key + ": not a " + network + " checkpoint");
  return it->second;
}

// Input channels of a convolution weight (out, in, k...).
int64_t in_channels(const StateDict& state, const std::string& key,
                    const std::filesystem::path& file, const std::string& network) {
  const at::Tensor& weight = entry(state, key, file, network);
  if (weight.dim() < 3) throw Error(file.string(), key + " is not a convolution weight");
  return weight.size(1);
}

}  // namespace

DINet load_dinet(const std::filesystem::path& file) {
  const StateDict state = read_network_state(file, {{"state_dict", "net_g"}});
  const std::string net = "DINet generator";
  DINet model(in_channels(state, "source_in_conv.0.conv.weight", file, net),
              in_channels(state, "ref_in_conv.0.conv.weight", file, net),
              in_channels(state, "audio_encoder.0.conv.weight", file, net));
  load_state_dict(*model, state, file.string());
  return model;
}

SyncNet load_syncnet(const std::filesystem::path& file) {
  const StateDict state = read_network_state(file, {{"state_dict", "net"}});
  const std::string net = "SyncNet";
  SyncNet model(in_channels(state, "face_encoder.face_conv.0.conv.weight", file, net),
                in_channels(state, "audio_encoder.audio_conv.0.conv.weight", file, net),
                entry(state, "merge_encoder.0.weight", file, net).size(0));
  load_state_dict(*model, state, file.string());
  return model;
}

Discriminator load_discriminator(const std::filesystem::path& file, bool prefer_clip) {
  const KeyPath frames = {"state_dict", "net_dI"}, clips = {"state_dict", "net_dV"};
  const StateDict state = read_network_state(
      file, prefer_clip ? std::vector<KeyPath>{clips, frames} : std::vector<KeyPath>{frames, clips});
  Discriminator model(in_channels(state, "down_blocks.0.conv.weight", file, "discriminator"));
  load_state_dict(*model, state, file.string());
  return model;
}

VGG19 load_vgg19(const std::filesystem::path& file) {
  StateDict features;
  for (auto& [key, tensor] : read_state_dict(file, {}))
    if (key.rfind("features.", 0) == 0) features.emplace_back(key, tensor);
  VGG19 model;
  load_state_dict(*model, features, file.string());
  return model;
}

}  // namespace dinet
