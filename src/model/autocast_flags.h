// Autocast's per-device switches under one spelling for every LibTorch we build against:
// 2.4 replaced is_cpu_enabled / set_autocast_gpu_dtype and their kin with functions that
// take the device type, and later releases dropped the old names.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define DINET_AUTOCAST_BY_DEVICE (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

namespace dinet::autocast {

inline bool enabled(c10::DeviceType device) {
#if DINET_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

inline void set_enabled(c10::DeviceType device, bool on) {
#if DINET_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(device, on);
#else
  device == c10::kCUDA ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on);
#endif
}

inline at::ScalarType dtype(c10::DeviceType device) {
#if DINET_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(device);
#else
  return device == c10::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

inline void set_dtype(c10::DeviceType device, at::ScalarType type) {
#if DINET_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(device, type);
#else
  device == c10::kCUDA ? at::autocast::set_autocast_gpu_dtype(type) : at::autocast::set_autocast_cpu_dtype(type);
#endif
}

}  // namespace dinet::autocast
