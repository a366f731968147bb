// Data-parallel training on several processes and machines (docs/distributed.md), on
// LibTorch's c10d process groups: Gloo on the CPU, NCCL on CUDA. Every process runs the same
// training loop on its own shard of the data; parameters start equal (broadcast from rank
// 0), gradients are averaged after each backward, and the generator's BatchNorm layers take
// their statistics over the global batch, so N processes with batch b train like one process
// with batch N*b. Processes are started by `torchrun --no-python` or `dinet launch`, which
// describe the job in environment variables.
#pragma once

#include <ATen/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dinet {

namespace detail {
struct Group;  // the c10d store and process group (src/train/distributed_group.h)
}

// Where this process stands in a job and how it reaches the others.
struct DistributedConfig {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;        // index on this machine: the CUDA device it uses
  int local_world_size = 0;  // processes on this machine; 0: not known
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;  // 0 with launcher_store false: rank 0 picks a free port (tests)
  // The launcher (torchrun's default static rendezvous, `dinet launch`) already serves the
  // TCPStore at master_addr:master_port, so every rank connects as a client under the key
  // prefix of the launcher's restart; otherwise rank 0 serves it (torchrun --standalone or
  // --rdzv_backend c10d, or variables set by hand).
  bool launcher_store = false;
  int restart_count = 0;
  // A collective or the rendezvous fails after this long without every process taking part,
  // so a dead or hung process stops the others with an error instead of a hang.
  std::chrono::milliseconds timeout = std::chrono::minutes(2);
  bool cuda = false;                // NCCL on cuda:local_rank; otherwise Gloo on the CPU
  size_t bucket_bytes = 25u << 20;  // gradients are all-reduced in flat buckets this big
};

// The job as torchrun and `dinet launch` describe it: RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE,
// TORCHELASTIC_RESTART_COUNT, and DINET_DIST_TIMEOUT (seconds, ours). Without WORLD_SIZE: a
// single process. Throws dinet::Error naming the variable that is malformed or missing.
DistributedConfig distributed_config_from_environment(bool cuda = false);

// Rank `rank`'s share of `plan`, a list that is the same on every rank (an epoch's shuffled
// sample order): items rank, rank + world, rank + 2 world, ... of the plan padded by
// wrapping around to a multiple of the world size, as torch's DistributedSampler does. The
// shares are disjoint up to that padding, cover the plan, and have the same length, so
// every rank runs the same number of steps.
template <class T>
std::vector<T> shard(const std::vector<T>& plan, int rank, int world_size) {
  if (world_size <= 1 || plan.empty()) return plan;
  const size_t per_rank = (plan.size() + world_size - 1) / world_size;
  std::vector<T> share;
  share.reserve(per_rank);
  for (size_t i = 0; i < per_rank; ++i)
    share.push_back(plan[(i * world_size + rank) % plan.size()]);
  return share;
}

class Distributed {
 public:
  // A single process: every collective is a no-op.
  Distributed();
  // From the environment (above); a single process when WORLD_SIZE is absent or 1.
  static Distributed from_environment(bool cuda = false);
  // Joins the job `config` describes (waits for every rank); a world of 1 still builds a
  // process group (tests). Throws dinet::Error when the rendezvous fails or times out.
  static Distributed connect(const DistributedConfig& config);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }
  // Processes on this machine (1 when not known): they share its CPU cores.
  int local_world_size() const { return local_world_size_; }
  // Rank 0 writes checkpoints, logs and pictures.
  bool is_main() const { return rank_ == 0; }
  bool active() const { return group_ != nullptr; }
  // "gloo", "nccl" or "none".
  std::string backend() const;
  // Where this process computes: cuda:local_rank for NCCL, else the CPU.
  c10::Device device() const;
  // "rank 1 of 4 (gloo)", for logs and errors.
  std::string describe() const;

  // Rank 0's parameters and buffers to every rank, in place; call once before training.
  void broadcast_parameters(torch::nn::Module& module) const;
  // Averages the gradients of `module`'s trainable parameters over every rank, in flat
  // buckets of config.bucket_bytes; call after backward, before the optimizer step. A
  // parameter without a gradient on this rank gets a zero one, so all ranks reduce alike.
  void all_reduce_gradients(torch::nn::Module& module) const;
  // The mean of `value` over every rank (losses for the log); every rank must call it.
  at::Tensor all_reduce_mean(const at::Tensor& value) const;
  // The sum over every rank (a tensor each rank fills in its own places and zeros elsewhere
  // sums to everyone's results: evaluation split between the ranks).
  at::Tensor all_reduce_sum(const at::Tensor& value) const;
  double all_reduce_mean(double value) const;
  void barrier() const;
  // Makes the train-mode forward of every DINet block's BatchNorm in `module` use the
  // statistics of the global batch (sum, sum of squares and count all-reduced) with the
  // matching backward (the gradient sums all-reduced), as the published synchronized
  // BatchNorm does; running statistics get the unbiased global variance. State-dict keys do
  // not change. Returns the number of layers changed (0 for a single process).
  int synchronize_batch_norm(torch::nn::Module& module) const;

  // This rank's share of `plan` (dinet::shard above).
  template <class T>
  std::vector<T> shard(const std::vector<T>& plan) const {
    return dinet::shard(plan, rank_, world_size_);
  }

 private:
  std::shared_ptr<const detail::Group> group_;
  int rank_ = 0, world_size_ = 1, local_rank_ = 0, local_world_size_ = 1;
};

// ---- launching --------------------------------------------------------------------------
struct LaunchOptions {
  std::vector<std::string> command;  // the program and its arguments, run once per process
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  // 0: a free port (one machine only)
  // After one process fails, the others get SIGTERM, then SIGKILL this much later.
  std::chrono::milliseconds kill_grace = std::chrono::seconds(10);
};

// Runs `command` nproc_per_node times with torchrun's environment (RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT, ...); node 0 serves the rendezvous store. Each line
// the processes print is prefixed with "[rank R] ". When one fails, the others are stopped.
// Returns 0 when every process succeeded, else the first failure's exit status (128 +
// signal for a signal). Throws dinet::Error for bad options or when a process cannot start.
int launch(const LaunchOptions& options);

}  // namespace dinet
