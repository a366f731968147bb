// PyTorch checkpoints without Python: reading and writing the `torch.save` zip archives of
// the published DINet code. The reader is a restricted unpickler that never executes code:
// only the globals needed for tensors, dicts and OrderedDict are accepted. Whole files as
// value trees (epoch, optimizer state, extra fields) are in dinet/torch_file.h.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "dinet/torch_file.h"

namespace dinet {

// Parameter and buffer names to tensors, in order.
using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

// The state dict stored at `path_in_file` inside a torch.save file, e.g. {"state_dict",
// "net_g"} for a published generator checkpoint, {} for a bare state dict such as
// torchvision's vgg19-dcbb9e9d.pth. A leading "module." (DataParallel) is stripped from
// every key. Throws dinet::Error naming the file on a missing path, a truncated or
// malformed archive, or a forbidden pickle global.
StateDict read_state_dict(const std::filesystem::path& file,
                          const std::vector<std::string>& path_in_file);

// Whether BatchNorm's `num_batches_tracked` buffers may be missing from a state dict. Files
// saved before PyTorch 0.4.1 (syncnet_python's syncnet_v2.model) have none; the counter only
// drives training with momentum=None, so an evaluation network may leave it at 0.
enum class BatchCounters { required, may_be_absent };

// Copies `state` into the module's parameters and buffers by name (no autograd). Throws one
// dinet::Error that lists every missing key, unexpected key and shape mismatch by name;
// `source` (usually the file name) starts the message. With BatchCounters::may_be_absent a
// missing `*.num_batches_tracked` is not an error (the buffer keeps its value); every other
// key is still required.
void load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& source,
                     BatchCounters batch_counters = BatchCounters::required);

// The module's parameters and buffers (BatchNorm's num_batches_tracked included) in PyTorch's
// state_dict() order: module by module, its own parameters, then its own buffers, then its
// children recursively (LibTorch's named_parameters() lists all parameters first).
StateDict module_state_dict(const torch::nn::Module& module);

// The tensors of a dict of name -> tensor inside a loaded file (e.g.
// file.at("state_dict").at("net_g")), with a leading "module." stripped from every key.
// Throws dinet::Error("<source>: ...") naming the first entry that is not a tensor.
StateDict state_dict_from_value(const TorchValue& dict, const std::string& source);

// A state dict as torch.save stores it: a collections.OrderedDict of `key_prefix` + name to
// tensor (the tensors are shared, not copied).
TorchValue state_dict_value(const StateDict& state, const std::string& key_prefix = "");

// The published checkpoint layouts (reference section 4), ready for save_torch_file. Callers
// may add top-level fields with set() (optimizer state, our 'dinet_meta'); published readers
// index only 'state_dict', so extra fields do not disturb them.
struct NamedStateDict {
  std::string name;  // "net_g", "net_dI", "net_dV"
  StateDict state;
};
// {'epoch': epoch, 'state_dict': {name: {'module.' + key: tensor}}[, 'optimizer': optimizer]}:
// the published trainers save networks wrapped in DataParallel, hence the "module." prefix.
// 'optimizer' is written only when `optimizer` is not None.
TorchValue published_generator_checkpoint(int64_t epoch, const std::vector<NamedStateDict>& nets,
                                          TorchValue optimizer = {});
// {'state_dict': {'net': {key: tensor}}}, keys without a prefix.
TorchValue published_syncnet_checkpoint(const StateDict& net);

}  // namespace dinet
