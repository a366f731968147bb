// Running BatchNorm statistics re-estimated from the current weights. Training keeps them as
// an exponential average (momentum 0.1) over batches seen while Adam moved the weights, so
// they trail the network; eval mode (inference, the per-epoch evaluation) then normalises
// with statistics the weights no longer produce. Averaging them afresh over a few
// train-mode forwards fixes that (docs/training.md, "Seen faces against unseen ones").
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <functional>

namespace dinet::train {

// Calls `forward(k)` for k = 0 .. batches-1, which must run one train-mode forward without
// autograd, with every BatchNorm of `network` at momentum 1/(k+1): the running statistics end
// as the plain average of those batches' statistics (PyTorch's momentum=None), whatever they
// were before. The layers get their own momentum back.
// Under synchronized BatchNorm each forward takes the statistics of the global batch, so
// every rank must make the same number of calls and ends with the same statistics.
void estimate_batchnorm_statistics(torch::nn::Module& network, int64_t batches,
                                   const std::function<void(int64_t)>& forward);

}  // namespace dinet::train
