// Where and in what precision a trainer computes: the device, autocast for mixed precision,
// channels-last activations, and loss scaling for fp16. The code builds against a CPU-only
// LibTorch: CUDA is looked for at run time.
#pragma once

#include <ATen/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/Device.h>
#include <c10/core/MemoryFormat.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <string>

namespace dinet::train {

struct Compute {
  c10::Device device{c10::kCPU};
  std::string precision = "fp32";  // "fp32", "bf16", "fp16"
  bool channels_last = false;

  bool mixed() const { return precision != "fp32"; }
  // An input batch on the device, 4-D tensors in the chosen memory format.
  at::Tensor input(const at::Tensor& t) const;
  // Moves a network to the device (parameters in the chosen memory format).
  void place(torch::nn::Module& module) const;
  // The same for a module holder, returned: for constructor initialiser lists.
  template <class Net>
  Net placed(Net net) const {
    place(*net);
    return net;
  }
};

// Checks the request against this machine: "cuda" without a CUDA device, "fp16" on the CPU,
// and "bf16" on a CPU without bf16 instructions are dinet::Errors that say what to use.
Compute resolve_compute(const std::string& device, const std::string& precision, bool channels_last);

// Mixed precision while alive (the Python `torch.autocast` block): matrix products and
// convolutions in bf16/fp16, precision-sensitive ops in fp32. A no-op for fp32.
class AutocastScope {
 public:
  explicit AutocastScope(const Compute& compute);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false, cuda_ = false, previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kFloat;
};

// A network's forward without autograd, its inputs placed by `compute` and under its
// autocast: in train mode (BatchNorm on the batch's own statistics, updating the running
// ones) or in eval mode (the running ones, as inference computes).
template <class Net, class... Inputs>
at::Tensor forward_without_grad(Net& net, const Compute& compute, bool train_mode, const Inputs&... inputs) {
  at::NoGradGuard no_grad;
  net->train(train_mode);
  AutocastScope autocast(compute);
  return net->forward(compute.input(inputs)...);
}

// Loss scaling for fp16 (PyTorch's GradScaler with its defaults): the loss is multiplied by
// the scale before backward so small gradients survive fp16; gradients are unscaled before
// the step, which is skipped when any is inf or NaN; the scale halves after an overflow and
// doubles after `growth_interval` clean iterations. Disabled, it changes nothing.
class GradScaler {
 public:
  explicit GradScaler(bool enabled, double init_scale = 65536.0, int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  at::Tensor scale(const at::Tensor& loss) const;
  // Unscales the optimizer's gradients and steps unless one overflowed; true when it stepped.
  bool step(torch::optim::Optimizer& optimizer);
  // Adjusts the scale once per iteration, after every step() of the iteration.
  void update();

  double scale_value() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }
  void restore(double scale, int64_t growth_tracker);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_, growth_tracker_ = 0;
  bool found_inf_ = false;
};

}  // namespace dinet::train
