#include "dinet/checkpoint.h"

#include <torch/torch.h>

#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "dinet/error.h"

namespace dinet {
namespace {

constexpr std::string_view kDataParallelPrefix = "module.";

std::string shape_text(at::IntArrayRef sizes) {
  std::ostringstream out;
  out << sizes;
  return out.str();
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

void collect(const torch::nn::Module& module, const std::string& prefix, StateDict& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false))
    if (p.value().defined()) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/false))
    if (b.value().defined()) out.emplace_back(prefix + b.key(), b.value());
  for (const auto& child : module.named_children())
    collect(*child.value(), prefix + child.key() + ".", out);
}

// BatchNorm's step counter: `<module>.num_batches_tracked`, or the bare name at the top.
bool is_batch_counter(const std::string& name) {
  constexpr std::string_view counter = "num_batches_tracked";
  return name == counter || name.ends_with("." + std::string(counter));
}

}  // namespace

StateDict state_dict_from_value(const TorchValue& dict, const std::string& source) {
  if (dict.kind() != TorchValue::Kind::dict)
    throw Error(source, "expected a state dict, found " + dict.type_name());
  StateDict state;
  state.reserve(dict.entries().size());
  for (const auto& [key, value] : dict.entries()) {
    if (key.kind() != TorchValue::Kind::string || value.kind() != TorchValue::Kind::tensor)
      throw Error(source,
                  "state dict entry " + key.repr() + " is " + value.type_name() + ", not a tensor");
    std::string name = key.as_string();
    if (name.starts_with(kDataParallelPrefix)) name.erase(0, kDataParallelPrefix.size());
    state.emplace_back(std::move(name), value.as_tensor());
  }
  return state;
}

StateDict read_state_dict(const std::filesystem::path& file,
                          const std::vector<std::string>& path_in_file) {
  const TorchValue root = load_torch_file(file);
  const TorchValue* node = &root;
  std::string where;
  for (const std::string& key : path_in_file) {
    const TorchValue* next = node->kind() == TorchValue::Kind::dict ? node->find(key) : nullptr;
    if (!next) {
      std::string keys;
      if (node->kind() == TorchValue::Kind::dict)
        for (const auto& e : node->entries()) keys += (keys.empty() ? "" : ", ") + e.key.repr();
      throw Error(file.string(),
                  "no entry ['" + key + "'] at " + (where.empty() ? "the top level" : where) +
                      (node->kind() == TorchValue::Kind::dict ? " (it holds " + keys + ")"
                                                              : " (a " + node->type_name() + ")"));
    }
    where += "['" + key + "']";
    node = next;
  }
  return state_dict_from_value(*node, file.string() + (where.empty() ? "" : " " + where));
}

void load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& source,
                     BatchCounters batch_counters) {
  const StateDict own = module_state_dict(module);
  std::unordered_map<std::string, const at::Tensor*> given;
  for (const auto& [name, tensor] : state) given[name] = &tensor;
  std::unordered_set<std::string> known;
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, target] : own) {
    known.insert(name);
    const auto it = given.find(name);
    if (it == given.end()) {
      if (!(batch_counters == BatchCounters::may_be_absent && is_batch_counter(name)))
        missing.push_back(name);
    } else if (it->second->sizes() != target.sizes()) {
      mismatched.push_back(name + " (file " + shape_text(it->second->sizes()) + ", network " +
                           shape_text(target.sizes()) + ")");
    }
  }
  for (const auto& [name, tensor] : state)
    if (!known.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string problem = "the state dict does not match the network:";
    if (!missing.empty()) problem += " missing keys: " + joined(missing) + ";";
    if (!unexpected.empty()) problem += " unexpected keys: " + joined(unexpected) + ";";
    if (!mismatched.empty()) problem += " shape mismatches: " + joined(mismatched) + ";";
    problem.pop_back();
    throw Error(source, problem);
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : own)
    if (const auto it = given.find(name); it != given.end()) target.copy_(*it->second);
}

StateDict module_state_dict(const torch::nn::Module& module) {
  StateDict state;
  collect(module, "", state);
  return state;
}

TorchValue state_dict_value(const StateDict& state, const std::string& key_prefix) {
  TorchValue dict = TorchValue::ordered_dict();
  for (const auto& [name, tensor] : state) dict.set(key_prefix + name, tensor);
  return dict;
}

TorchValue published_generator_checkpoint(int64_t epoch, const std::vector<NamedStateDict>& nets,
                                          TorchValue optimizer) {
  TorchValue root = TorchValue::dict();
  root.set("epoch", epoch);
  TorchValue state = TorchValue::dict();
  for (const auto& net : nets)
    state.set(net.name, state_dict_value(net.state, std::string(kDataParallelPrefix)));
  root.set("state_dict", std::move(state));
  if (!optimizer.is_none()) root.set("optimizer", std::move(optimizer));
  return root;
}

TorchValue published_syncnet_checkpoint(const StateDict& net) {
  TorchValue state = TorchValue::dict();
  state.set("net", state_dict_value(net));
  TorchValue root = TorchValue::dict();
  root.set("state_dict", std::move(state));
  return root;
}

}  // namespace dinet
