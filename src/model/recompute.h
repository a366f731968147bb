// Gradient checkpointing for one segment of a network: the segment's forward keeps no
// activations, and the backward runs it again with autograd to get its gradients. Less
// memory for one more forward of the segment (LibTorch's C++ API has no
// torch.utils.checkpoint).
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <functional>

namespace dinet {

// `run(x)` computed by `segment` (whose parameters receive their gradients as usual), with
// only `x` kept for the backward. The recompute uses the autocast state of the forward and
// leaves the segment's buffers (BatchNorm running statistics) as the forward left them, so
// they are updated once per step. Without grad mode it is `run(x)`.
at::Tensor recomputed(torch::nn::Module& segment, std::function<at::Tensor(const at::Tensor&)> run,
                      const at::Tensor& x);

}  // namespace dinet
