// PyTorch checkpoints without Python: reading and writing the `torch.save` zip archives of
// the published DINet code. The reader is a restricted unpickler that never executes code:
// only the globals needed for tensors, dicts and OrderedDict are accepted.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

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

// Copies `state` into the module's parameters and buffers by name (no autograd). Throws one
// dinet::Error that lists every missing key, unexpected key and shape mismatch by name;
// `source` (usually the file name) starts the message.
void load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& source);

// The module's parameters and buffers (BatchNorm's num_batches_tracked included), in
// registration order: the same names and order as PyTorch's state_dict().
StateDict module_state_dict(const torch::nn::Module& module);

}  // namespace dinet
