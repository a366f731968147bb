// The pickle layer of torch.save files, apart from their containers (zip or legacy stream):
// a restricted unpickler that never runs code, and a protocol-2 pickler that writes what
// torch.save writes. Internal to src/model; the public API is dinet/torch_file.h.
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/core/Storage.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dinet/torch_file.h"

namespace dinet::pickle {

// torch.<Name>Storage, the globals that name a storage's element type in persistent ids.
struct StorageType {
  const char* name;
  at::ScalarType dtype;
};
inline constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", at::kFloat},       {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
    {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong},     {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort},       {"CharStorage", at::kChar},     {"ByteStorage", at::kByte},
    {"BoolStorage", at::kBool}};

// A storage named by a persistent id ('storage', torch.<Type>Storage, key, location, numel).
struct StorageRef {
  std::string key;
  at::ScalarType dtype;
  int64_t numel;
};
// Returns a 1-D CPU tensor of exactly ref.numel elements over the storage's memory; tensors
// are then built as views of it. Called once per key.
using StorageLoader = std::function<at::Tensor(const StorageRef& ref)>;

// Unpickles the pickle that starts at bytes[0] (protocol 2 to 5 opcodes, binary forms only).
// Accepts only collections.OrderedDict, torch._utils._rebuild_tensor / _rebuild_tensor_v2 /
// _rebuild_parameter and the storage types; any other global throws dinet::Error before
// anything is called. `consumed` receives the length up to and including STOP. Errors carry
// no file name; the caller adds it.
TorchValue load(std::string_view bytes, const StorageLoader& load_storage,
                size_t* consumed = nullptr);

// A storage to write as record data/<key>: all of its bytes, as torch.save writes them.
struct SavedStorage {
  std::string key;
  c10::Storage storage;
};
// Pickles `value` as torch.save does (protocol 2) and lists the storages its tensors use,
// each once, keyed "0", "1", ... in order of first use.
std::string dump(const TorchValue& value, std::vector<SavedStorage>& storages);

}  // namespace dinet::pickle
