// Synchronized BatchNorm, as the published code trains the generator: in train mode the
// statistics are those of the global batch (every process's samples), and the backward
// all-reduces the two per-channel gradient sums it needs (sum dy and sum dy * (x - mean)),
// as torch.nn.SyncBatchNorm does. Averaging the parameter gradients afterwards then gives
// exactly the gradient of one process holding the whole batch.
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/var_mean.h>
#include <torch/csrc/autograd/custom_function.h>

#include "dinet/distributed.h"
#include "model/blocks.h"
#include "train/distributed_group.h"

namespace dinet {
namespace {

// The group rides in the autograd context as a capsule: backward needs it, and the
// context only holds IValues.
struct GroupHolder : torch::CustomClassHolder {
  explicit GroupHolder(std::shared_ptr<const detail::Group> g) : group(std::move(g)) {}
  std::shared_ptr<const detail::Group> group;
};

// Every dimension but the channels: (N, H, W) for images, (N, L) for audio.
std::vector<int64_t> reduced_dims(const at::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

// (1, C, 1, ...): a per-channel vector broadcast over x.
at::Tensor per_channel(const at::Tensor& v, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = v.numel();
  return v.view(shape);
}

struct Statistics {
  at::Tensor mean, var;  // biased (population) variance, as normalisation uses
  double count = 0;      // values per channel over every process
};

// Each rank's count, sum and sum of squares per channel, summed in one all-reduce. They go
// in double: the variance is then E[x^2] - mean^2, which float would lose to cancellation.
Statistics global_statistics(const at::Tensor& x, const detail::Group& g) {
  const at::Tensor xf = x.is_floating_point() && x.element_size() >= 4 ? x : x.to(at::kFloat);
  const auto [var, mean] = at::var_mean(xf, reduced_dims(x), /*unbiased=*/false);
  const double n = static_cast<double>(x.numel() / x.size(1));
  const at::Tensor mean64 = mean.to(at::kDouble), var64 = var.to(at::kDouble);
  at::Tensor sums =
      at::cat({at::full({1}, n, mean64.options()), mean64 * n, (var64 + mean64 * mean64) * n})
          .to(g.device);
  g.all_reduce_sum(sums, "synchronizing BatchNorm statistics");
  sums = sums.to(x.device());
  const int64_t channels = x.size(1);
  Statistics s;
  s.count = sums[0].item<double>();
  const at::Tensor global_mean = sums.narrow(0, 1, channels) / s.count;
  s.var = (sums.narrow(0, 1 + channels, channels) / s.count - global_mean * global_mean)
              .clamp_min(0)
              .to(xf.dtype());
  s.mean = global_mean.to(xf.dtype());
  return s;
}

struct SyncBatchNormFunction : torch::autograd::Function<SyncBatchNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, const at::Tensor& bias,
                            const at::Tensor& mean, const at::Tensor& invstd, double count,
                            const std::shared_ptr<const detail::Group>& group) {
    ctx->save_for_backward({x, weight, mean, invstd});
    ctx->saved_data["count"] = count;
    ctx->saved_data["group"] = c10::IValue::make_capsule(c10::make_intrusive<GroupHolder>(group));
    const at::Tensor scale = invstd * weight;
    const at::Tensor shift = bias - mean * scale;
    return x * per_channel(scale, x).to(x.dtype()) + per_channel(shift, x).to(x.dtype());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    const auto holder =
        c10::static_intrusive_pointer_cast<GroupHolder>(ctx->saved_data["group"].toCapsule());
    const detail::Group& g = *holder->group;

    const at::Tensor dy = grad_outputs[0].to(mean.dtype());
    const at::Tensor xmu = x.to(mean.dtype()) - per_channel(mean, x);
    const std::vector<int64_t> dims = reduced_dims(x);
    const at::Tensor sum_dy = dy.sum(dims), sum_dy_xmu = (dy * xmu).sum(dims);
    // This rank's share only: the trainer's gradient averaging sums the ranks' shares.
    const at::Tensor grad_weight = sum_dy_xmu * invstd, grad_bias = sum_dy;

    const int64_t channels = x.size(1);
    at::Tensor sums = at::cat({sum_dy, sum_dy_xmu}).to(g.device);
    g.all_reduce_sum(sums, "synchronizing BatchNorm gradients");
    sums = sums.to(x.device());
    const at::Tensor mean_dy = sums.narrow(0, 0, channels) / count;
    const at::Tensor mean_dy_xmu = sums.narrow(0, channels, channels) / count;
    const at::Tensor dx =
        (dy - per_channel(mean_dy, x) - xmu * per_channel(invstd * invstd * mean_dy_xmu, x)) *
        per_channel(invstd * weight, x);
    return {dx.to(x.dtype()), grad_weight, grad_bias, {}, {}, {}, {}};
  }
};

at::Tensor sync_batch_norm(blocks::NormImpl& bn, const at::Tensor& x,
                           const std::shared_ptr<const detail::Group>& group) {
  if (x.dim() < 2 || x.size(1) != bn.weight.numel())
    throw Error("synchronized BatchNorm: the input has " +
                std::to_string(x.dim() < 2 ? 0 : x.size(1)) + " channels, the layer " +
                std::to_string(bn.weight.numel()));
  Statistics s;
  {
    at::NoGradGuard no_grad;
    s = global_statistics(x.detach(), *group);
    // The running statistics as BatchNorm keeps them, from the global batch.
    bn.num_batches_tracked += 1;
    const double unbias = s.count > 1 ? s.count / (s.count - 1) : 1.0;
    bn.running_mean.mul_(1 - bn.momentum).add_(s.mean.to(bn.running_mean.dtype()), bn.momentum);
    bn.running_var.mul_(1 - bn.momentum)
        .add_(s.var.to(bn.running_var.dtype()), bn.momentum * unbias);
  }
  const at::Tensor invstd = (s.var + bn.eps).rsqrt();
  return SyncBatchNormFunction::apply(x, bn.weight, bn.bias, s.mean, invstd, s.count, group);
}

}  // namespace

int Distributed::synchronize_batch_norm(torch::nn::Module& module) const {
  if (!group_) return 0;
  int changed = 0;
  for (const std::shared_ptr<torch::nn::Module>& child : module.modules(/*include_self=*/false)) {
    auto norm = std::dynamic_pointer_cast<blocks::NormImpl>(child);
    if (!norm) continue;
    norm->train_forward = [group = group_](blocks::NormImpl& bn, const at::Tensor& x) {
      return sync_batch_norm(bn, x, group);
    };
    ++changed;
  }
  return changed;
}

}  // namespace dinet
