// Optimizer state in PyTorch's layout, so a checkpoint's 'optimizer' entry loads into a
// Python `torch.optim.Adam(net.parameters())` and back into ours on --resume.
#pragma once

#include <torch/optim/adam.h>

#include <string>

#include "dinet/checkpoint.h"
#include "dinet/torch_file.h"

namespace dinet::train {

// Adam.state_dict() as PyTorch 1.13 writes it: {'state': {i: {'step', 'exp_avg',
// 'exp_avg_sq'}}, 'param_groups': [{'lr', 'betas', 'eps', ..., 'initial_lr', 'params'}]},
// parameters numbered in the module's parameters() order, which is the published one.
// `initial_lr` is what the published LambdaLR records in every group.
TorchValue adam_state_value(const torch::optim::Adam& adam, double initial_lr);

// Restores moments and step counts (on the parameters' device and memory format) and the
// learning rate. Throws dinet::Error("<source>: ...") when the state does not fit the
// parameters (count or shapes).
void load_adam_state(torch::optim::Adam& adam, const TorchValue& state, const std::string& source);

// Sets every group's learning rate.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// Contiguous CPU copies (a checkpoint holds plain tensors whatever the training layout).
StateDict cpu_contiguous(const StateDict& state);

}  // namespace dinet::train
