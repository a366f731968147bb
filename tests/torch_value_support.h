// Deep comparison of TorchValue trees for the checkpoint tests: kinds, dict order and
// OrderedDict-ness, scalars, and tensors bit for bit (dtype, shape, strides, offset, data).
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "dinet/torch_file.h"

namespace dinet::test {

// The first difference as "<where>: <what>", or empty when the trees are the same.
inline std::string value_difference(const TorchValue& a, const TorchValue& b,
                                    const std::string& where = "root") {
  using Kind = TorchValue::Kind;
  if (a.kind() != b.kind() || a.type_name() != b.type_name())
    return where + ": " + a.type_name() + " vs " + b.type_name();
  switch (a.kind()) {
    case Kind::none: return {};
    case Kind::boolean:
    case Kind::integer:
    case Kind::floating:
    case Kind::string:
      return a.repr() == b.repr() ? "" : where + ": " + a.repr() + " vs " + b.repr();
    case Kind::tensor: {
      const at::Tensor& x = a.as_tensor();
      const at::Tensor& y = b.as_tensor();
      if (x.scalar_type() != y.scalar_type() || x.sizes() != y.sizes() ||
          x.strides() != y.strides() || x.storage_offset() != y.storage_offset())
        return where + ": " + a.repr() + " vs " + b.repr() + " (or strides/offset differ)";
      if (x.numel() &&
          std::memcmp(x.contiguous().data_ptr(), y.contiguous().data_ptr(), x.nbytes()) != 0)
        return where + ": tensor data differs";
      return {};
    }
    case Kind::list:
    case Kind::tuple: {
      if (a.items().size() != b.items().size()) return where + ": lengths differ";
      for (size_t i = 0; i < a.items().size(); ++i)
        if (auto d =
                value_difference(a.items()[i], b.items()[i], where + "[" + std::to_string(i) + "]");
            !d.empty())
          return d;
      return {};
    }
    case Kind::dict: {
      if (a.entries().size() != b.entries().size()) return where + ": sizes differ";
      for (size_t i = 0; i < a.entries().size(); ++i) {
        const auto& ea = a.entries()[i];
        const auto& eb = b.entries()[i];
        if (auto d = value_difference(ea.key, eb.key, where + " key #" + std::to_string(i));
            !d.empty())
          return d;
        if (auto d = value_difference(ea.value, eb.value, where + "[" + ea.key.repr() + "]");
            !d.empty())
          return d;
      }
      return {};
    }
  }
  return where + ": unknown kind";
}

}  // namespace dinet::test
