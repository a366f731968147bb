// What a Distributed holds when there is more than one process: the rendezvous store and
// the c10d process group, with the one way every collective is waited on, so a failure
// reads the same wherever it happens.
#pragma once

#include <ATen/Tensor.h>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/version.h>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#include <chrono>
#include <cstddef>
#include <string>

#include "dinet/error.h"

namespace dinet::detail {

// LibTorch 2 made Gloo and NCCL backends under a dispatching ProcessGroup; a backend has
// the collectives LibTorch 1's ProcessGroup had, with the same signatures.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

struct Group {
  c10::intrusive_ptr<c10d::Store> store;  // kept alive: rank 0 may be its server
  c10::intrusive_ptr<Collectives> process_group;
  int rank = 0, world_size = 1;
  std::string backend;
  c10::Device device{c10::kCPU};  // where collective buffers live
  std::chrono::milliseconds timeout{0};
  size_t bucket_bytes = 0;

  std::string describe() const;
  // The error for a failed collective: this rank, `what`, the backend's message and the
  // likely cause (another process died or hung).
  Error failure(const std::string& what, const std::exception& cause) const;
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) const;
  // Sums `tensor` over every rank, in place.
  void all_reduce_sum(at::Tensor& tensor, const std::string& what) const;
};

// The message of a c10d or Gloo exception without LibTorch's C++ backtrace.
std::string first_line(const std::exception& e);

}  // namespace dinet::detail
