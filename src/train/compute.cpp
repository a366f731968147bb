#include "train/compute.h"

#include <torch/cuda.h>

#include "dinet/cpu.h"
#include "dinet/error.h"
#include "dinet/runtime.h"
#include "model/autocast_flags.h"

namespace dinet::train {

at::Tensor Compute::input(const at::Tensor& t) const {
  at::Tensor x = t.to(device, /*non_blocking=*/device.is_cuda());
  if (x.dim() == 4)
    x = x.contiguous(channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  return x;
}

void Compute::place(torch::nn::Module& module) const {
  module.to(device);
  if (!channels_last) return;
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
}

Compute resolve_compute(const std::string& device, const std::string& precision, bool channels_last) {
  Compute c;
  c.channels_last = channels_last;
  if (device == "cuda") {
    if (!torch::cuda::is_available())
      throw Error("--device cuda", "no CUDA device is available to this LibTorch (use --device cpu)");
    c.device = c10::Device(c10::kCUDA);
  } else if (device != "cpu") {
    throw Error("--device " + device, "expected cpu or cuda");
  }
  if (precision != "fp32" && precision != "bf16" && precision != "fp16")
    throw Error("--precision " + precision, "expected fp32, bf16 or fp16");
  if (precision == "fp16" && !c.device.is_cuda())
    throw Error("--precision fp16", "needs --device cuda; on the CPU use bf16 or fp32");
  if (precision == "bf16" && !c.device.is_cuda() && !cpu_has_native_bf16())
    throw Error("--precision bf16", "this CPU has no bf16 instructions (AVX512-BF16 or AMX); use fp32");
  c.precision = precision;
  return c;
}

AutocastScope::AutocastScope(const Compute& compute) {
  if (!compute.mixed()) return;
  active_ = true;
  cuda_ = compute.device.is_cuda();
  const at::ScalarType dtype = compute.precision == "bf16" ? at::kBFloat16 : at::kHalf;
  const c10::DeviceType device = cuda_ ? c10::kCUDA : c10::kCPU;
  previous_enabled_ = autocast::enabled(device);
  previous_dtype_ = autocast::dtype(device);
  autocast::set_enabled(device, true);
  autocast::set_dtype(device, dtype);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // Cast weights are cached for the scope; the optimizer changes them before the next one.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  const c10::DeviceType device = cuda_ ? c10::kCUDA : c10::kCPU;
  autocast::set_enabled(device, previous_enabled_);
  autocast::set_dtype(device, previous_dtype_);
}

GradScaler::GradScaler(bool enabled, double init_scale, int64_t growth_interval)
    : enabled_(enabled), scale_(init_scale), growth_interval_(growth_interval) {}

at::Tensor GradScaler::scale(const at::Tensor& loss) const {
  return enabled_ ? loss * scale_ : loss;
}

bool GradScaler::step(torch::optim::Optimizer& optimizer) {
  if (!enabled_) {
    optimizer.step();
    return true;
  }
  std::vector<at::Tensor> grads;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params())
      if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return false;
  // One flag summed on the device, read once: no synchronisation per parameter.
  at::Tensor non_finite = at::zeros({}, grads.front().options().dtype(at::kFloat));
  for (auto& g : grads) {
    g.mul_(1.0 / scale_);
    non_finite.add_(g.isfinite().logical_not().any());
  }
  if (non_finite.item<float>() > 0) {
    found_inf_ = true;
    return false;
  }
  optimizer.step();
  return true;
}

void GradScaler::update() {
  if (!enabled_) return;
  if (found_inf_) {
    scale_ *= 0.5;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ == growth_interval_) {
    scale_ *= 2.0;
    growth_tracker_ = 0;
  }
  found_inf_ = false;
}

void GradScaler::restore(double scale, int64_t growth_tracker) {
  scale_ = scale;
  growth_tracker_ = growth_tracker;
}

}  // namespace dinet::train
