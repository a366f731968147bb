// The collectives a data-parallel trainer needs, each a no-op for a single process.
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros_like.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <functional>

#include "dinet/distributed.h"
#include "train/distributed_group.h"

namespace dinet {
namespace detail {

std::string first_line(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  const std::string text = torch_error ? torch_error->what_without_backtrace() : e.what();
  return text.substr(0, text.find('\n'));
}

std::string Group::describe() const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (" + backend +
         ")";
}

Error Group::failure(const std::string& what, const std::exception& cause) const {
  return Error("distributed: " + describe() + ": " + what + " failed: " + first_line(cause) +
               ". Another process has probably died, or has not reached this point within " +
               std::to_string(timeout.count() / 1000) + " s; its own output says why");
}

void Group::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) const {
  try {
    work->wait();
  } catch (const std::exception& e) {
    throw failure(what, e);
  }
}

void Group::all_reduce_sum(at::Tensor& tensor, const std::string& what) const {
  std::vector<at::Tensor> tensors{tensor};
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = process_group->allreduce(tensors);
  } catch (const std::exception& e) {
    throw failure(what, e);
  }
  wait(work, what);
}

}  // namespace detail

namespace {

using Collective = std::function<c10::intrusive_ptr<c10d::Work>(std::vector<at::Tensor>&)>;

// Runs `collective` on `tensors` packed into flat buffers of at most g.bucket_bytes (one
// dtype each; a larger tensor goes alone, in place when contiguous). Every bucket is started
// before the first is waited on, so packing overlaps with communication. `finish` runs on
// each reduced buffer before it is unpacked.
void bucketed(const detail::Group& g, const std::vector<at::Tensor>& tensors,
              const Collective& collective, const std::string& what,
              const std::function<void(at::Tensor&)>& finish) {
  struct Bucket {
    std::vector<at::Tensor> members;
    std::vector<at::Tensor> flat;  // one buffer, as c10d takes it
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Bucket> buckets;
  size_t bytes = 0;
  for (const at::Tensor& t : tensors) {
    const size_t size = t.numel() * t.element_size();
    if (buckets.empty() || bytes + size > g.bucket_bytes ||
        buckets.back().members[0].scalar_type() != t.scalar_type() ||
        buckets.back().members[0].device() != t.device()) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().members.push_back(t);
    bytes += size;
  }
  try {
    for (Bucket& b : buckets) {
      if (b.members.size() == 1 && b.members[0].is_contiguous()) {
        b.flat = {b.members[0]};
      } else {
        std::vector<at::Tensor> pieces;
        for (const at::Tensor& t : b.members) pieces.push_back(t.reshape(-1));
        b.flat = {at::cat(pieces)};
      }
      b.work = collective(b.flat);
    }
  } catch (const std::exception& e) {
    throw g.failure(what, e);
  }
  for (Bucket& b : buckets) {
    g.wait(b.work, what);
    at::Tensor& flat = b.flat[0];
    if (finish) finish(flat);
    if (flat.is_same(b.members[0])) continue;
    int64_t offset = 0;
    for (at::Tensor& t : b.members) {
      t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

}  // namespace

Distributed::Distributed() = default;

std::string Distributed::backend() const { return group_ ? group_->backend : "none"; }

c10::Device Distributed::device() const { return group_ ? group_->device : c10::Device(c10::kCPU); }

std::string Distributed::describe() const {
  return group_ ? group_->describe() : "a single process";
}

void Distributed::broadcast_parameters(torch::nn::Module& module) const {
  if (!group_) return;
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors = module.parameters();
  for (const at::Tensor& buffer : module.buffers()) tensors.push_back(buffer);
  const auto& pg = group_->process_group;
  bucketed(
      *group_, tensors, [&](std::vector<at::Tensor>& flat) { return pg->broadcast(flat); },
      "broadcasting rank 0's parameters", nullptr);
}

void Distributed::all_reduce_gradients(torch::nn::Module& module) const {
  if (!group_) return;
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (at::Tensor& p : module.parameters()) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  const auto& pg = group_->process_group;
  const double world = world_size_;
  bucketed(
      *group_, grads, [&](std::vector<at::Tensor>& flat) { return pg->allreduce(flat); },
      "averaging gradients", [world](at::Tensor& sum) { sum.div_(world); });
}

at::Tensor Distributed::all_reduce_mean(const at::Tensor& value) const {
  if (!group_) return value;
  const at::ScalarType type = value.is_floating_point() ? value.scalar_type() : at::kDouble;
  at::Tensor sum =
      value.detach().to(group_->device, type, /*non_blocking=*/false, /*copy=*/true).contiguous();
  group_->all_reduce_sum(sum, "averaging a value over the processes");
  return sum.div_(world_size_).to(value.device());
}

at::Tensor Distributed::all_reduce_sum(const at::Tensor& value) const {
  if (!group_) return value;
  const at::ScalarType type = value.is_floating_point() ? value.scalar_type() : at::kDouble;
  at::Tensor sum =
      value.detach().to(group_->device, type, /*non_blocking=*/false, /*copy=*/true).contiguous();
  group_->all_reduce_sum(sum, "summing a value over the processes");
  return sum.to(value.device());
}

double Distributed::all_reduce_mean(double value) const {
  if (!group_) return value;
  return all_reduce_mean(at::full({1}, value, at::TensorOptions().dtype(at::kDouble)))
      .item<double>();
}

void Distributed::barrier() const {
  if (!group_) return;
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = group_->process_group->barrier();
  } catch (const std::exception& e) {
    throw group_->failure("waiting for every process (barrier)", e);
  }
  group_->wait(work, "waiting for every process (barrier)");
}

}  // namespace dinet
