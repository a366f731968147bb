// Whole torch.save files without Python: the value tree a checkpoint holds (epoch, state
// dicts, optimizer state, our own metadata), read and written in the format PyTorch uses.
// Reading never executes code: a restricted unpickler accepts only the globals that tensors,
// storages and collections.OrderedDict need and refuses every other one.
#pragma once

#include <ATen/Tensor.h>

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace dinet {

// A Python value of the kinds checkpoints contain. Dicts keep their insertion order and
// remember whether they were a collections.OrderedDict (what state_dict() returns), so a
// file read and written back keeps its layout.
class TorchValue {
 public:
  enum class Kind { none, boolean, integer, floating, string, tensor, list, tuple, dict };
  struct Entry;  // one key/value pair of a dict

  TorchValue() = default;  // None
  TorchValue(bool value) : data_(value) {}
  template <std::integral T>
  requires(!std::same_as<T, bool>) TorchValue(T value) : data_(static_cast<int64_t>(value)) {}
  template <std::floating_point T>
  TorchValue(T value) : data_(static_cast<double>(value)) {}
  TorchValue(std::string value) : data_(std::move(value)) {}
  TorchValue(const char* value) : data_(std::string(value)) {}
  TorchValue(at::Tensor value) : data_(std::move(value)) {}

  static TorchValue list(std::vector<TorchValue> items = {});
  static TorchValue tuple(std::vector<TorchValue> items = {});
  static TorchValue dict();          // a plain Python dict
  static TorchValue ordered_dict();  // a collections.OrderedDict

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  // The Python type name ("int", "str", "OrderedDict", ...), for messages.
  std::string type_name() const;
  bool is_none() const { return kind() == Kind::none; }
  bool is_ordered_dict() const;

  // Each throws dinet::Error("expected <kind>, found <type>") on another kind.
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;  // an int is accepted, as Python would
  const std::string& as_string() const;
  const at::Tensor& as_tensor() const;
  // The items of a list or a tuple.
  const std::vector<TorchValue>& items() const;
  std::vector<TorchValue>& items();
  // The entries of a dict, in order.
  const std::vector<Entry>& entries() const;

  // Dict lookup by key (a string, an int, a tuple, ...); nullptr when the dict lacks it.
  // Unlike in Python, 1, 1.0 and True are different keys.
  const TorchValue* find(const TorchValue& key) const;
  // Dict lookup that throws dinet::Error("no key '<key>'") when the key is absent.
  const TorchValue& at(const TorchValue& key) const;
  // Replaces the value of an existing key in place, or appends a new entry; returns the value.
  TorchValue& set(TorchValue key, TorchValue value);
  // Appends to a list.
  void append(TorchValue value);

  // Python-like text of a key or a scalar, for messages: 'net_g', 3, 1.5, None.
  std::string repr() const;

 private:
  struct List {
    std::vector<TorchValue> items;
  };
  struct Tuple {
    std::vector<TorchValue> items;
  };
  struct Dict {
    std::vector<Entry> entries;
    std::unordered_map<std::string, size_t> index;  // key signature -> position in entries
    bool ordered = false;
  };
  // Same order as Kind.
  std::variant<std::monostate, bool, int64_t, double, std::string, at::Tensor, List, Tuple, Dict>
      data_;
};

struct TorchValue::Entry {
  TorchValue key;
  TorchValue value;
};

// Reads a file written by torch.save: the zip format (PyTorch >= 1.6, whatever the name of
// its top folder) or the legacy format (older PyTorch, `_use_new_zipfile_serialization=False`,
// e.g. torchvision's VGG weights). Tensors come back on the CPU. Throws one dinet::Error naming
// the file for a missing, empty, truncated or malformed file and for a forbidden global.
TorchValue load_torch_file(const std::filesystem::path& file);

// Writes `value` as torch.save does (zip format, pickle protocol 2, tensors as
// torch._utils._rebuild_tensor_v2 of typed storages), so Python's torch.load reads it, with
// weights_only=True too. Tensors on other devices are copied to the CPU; tensors that share a
// storage keep sharing it. Atomic: the file appears complete or not at all.
void save_torch_file(const std::filesystem::path& file, const TorchValue& value);

}  // namespace dinet
