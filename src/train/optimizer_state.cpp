#include "train/optimizer_state.h"

#include <ATen/ops/scalar_tensor.h>

#include <sstream>
#include <type_traits>

#include "dinet/error.h"

namespace dinet::train {
namespace {

// LibTorch keys Adam's per-parameter state by the parameter's TensorImpl: its address as
// text in 1.13, the address itself in 2.11; the key type of state() says which.
using StateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

template <class Key = StateKey>
Key state_key(const at::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream address;
    address << p.unsafeGetTensorImpl();
    return address.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

at::Tensor plain(const at::Tensor& t) { return t.detach().to(at::kCPU).contiguous(); }

}  // namespace

TorchValue adam_state_value(const torch::optim::Adam& adam, double initial_lr) {
  TorchValue state = TorchValue::dict(), groups = TorchValue::list();
  int64_t index = 0;
  auto& states = const_cast<torch::optim::Adam&>(adam).state();
  for (const auto& group : adam.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    TorchValue params = TorchValue::list();
    for (const auto& p : group.params()) {
      const auto it = states.find(state_key(p));
      if (it != states.end()) {
        const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
        TorchValue entry = TorchValue::dict();
        // PyTorch 1.12+ keeps the step as a float tensor.
        entry.set("step", at::scalar_tensor(static_cast<double>(s.step()), at::kFloat));
        entry.set("exp_avg", plain(s.exp_avg()));
        entry.set("exp_avg_sq", plain(s.exp_avg_sq()));
        if (o.amsgrad()) entry.set("max_exp_avg_sq", plain(s.max_exp_avg_sq()));
        state.set(index, std::move(entry));
      }
      params.append(index++);
    }
    TorchValue g = TorchValue::dict();
    g.set("lr", o.lr());
    g.set("betas", TorchValue::tuple({std::get<0>(o.betas()), std::get<1>(o.betas())}));
    g.set("eps", o.eps());
    g.set("weight_decay", o.weight_decay());
    g.set("amsgrad", o.amsgrad());
    g.set("maximize", false);
    g.set("foreach", TorchValue());
    g.set("capturable", false);
    g.set("differentiable", false);
    g.set("fused", false);
    g.set("initial_lr", initial_lr);
    g.set("params", std::move(params));
    groups.append(std::move(g));
  }
  TorchValue out = TorchValue::dict();
  out.set("state", std::move(state));
  out.set("param_groups", std::move(groups));
  return out;
}

void load_adam_state(torch::optim::Adam& adam, const TorchValue& value, const std::string& source) {
  const TorchValue& state = value.at("state");
  const TorchValue& groups = value.at("param_groups");
  if (groups.items().size() != adam.param_groups().size())
    throw Error(source, "optimizer state has " + std::to_string(groups.items().size()) +
                            " parameter groups, expected " + std::to_string(adam.param_groups().size()));
  for (size_t g = 0; g < adam.param_groups().size(); ++g) {
    auto& group = adam.param_groups()[g];
    const TorchValue& saved = groups.items()[g];
    if (saved.at("params").items().size() != group.params().size())
      throw Error(source, "optimizer state covers " + std::to_string(saved.at("params").items().size()) +
                              " parameters, the network has " + std::to_string(group.params().size()));
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(saved.at("lr").as_double());
    const auto& ids = saved.at("params").items();
    for (size_t k = 0; k < group.params().size(); ++k) {
      const at::Tensor& p = group.params()[k];
      const int64_t id = ids[k].as_int();
      const TorchValue* entry = state.find(id);
      if (!entry) continue;  // never stepped
      auto restore = [&](const char* name) {
        const at::Tensor& t = entry->at(name).as_tensor();
        if (t.sizes() != p.sizes())
          throw Error(source, std::string("optimizer ") + name + " of parameter " + std::to_string(id) +
                                  " has shape " + c10::str(t.sizes()) + ", the parameter " + c10::str(p.sizes()));
        return t.to(p.device(), p.scalar_type()).contiguous(p.suggest_memory_format());
      };
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->step(static_cast<int64_t>(entry->at("step").kind() == TorchValue::Kind::tensor
                                       ? entry->at("step").as_tensor().item<double>()
                                       : entry->at("step").as_double()));
      s->exp_avg(restore("exp_avg"));
      s->exp_avg_sq(restore("exp_avg_sq"));
      if (entry->find("max_exp_avg_sq")) s->max_exp_avg_sq(restore("max_exp_avg_sq"));
      adam.state()[state_key(p)] = std::move(s);
    }
  }
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

StateDict cpu_contiguous(const StateDict& state) {
  StateDict out;
  out.reserve(state.size());
  for (const auto& [name, t] : state) out.emplace_back(name, plain(t));
  return out;
}

}  // namespace dinet::train
