// Writes what torch.save's protocol-2 pickler writes for the kinds of TorchValue, so that
// Python's torch.load (including weights_only=True) and the unpickler here read it back.
#include <ATen/ATen.h>

#include <bit>
#include <unordered_map>

#include "dinet/error.h"
#include "model/pickle.h"

namespace dinet::pickle {
namespace {

class Pickler {
 public:
  explicit Pickler(std::vector<SavedStorage>& storages) : storages_(storages) {}

  std::string run(const TorchValue& value) {
    out_ += "\x80\x02";  // PROTO 2, torch.save's default
    write(value);
    out_ += '.';
    return std::move(out_);
  }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  void memo_index(char op1, char op4, uint32_t index) {
    if (index < 256) {
      out_ += op1;
      le(index, 1);
    } else {
      out_ += op4;
      le(index, 4);
    }
  }
  // Globals are memoised the way Python's pickler does it, so each name is spelled once.
  void global(const std::string& module, const std::string& name) {
    const std::string key = module + "\n" + name + "\n";
    if (const auto it = globals_.find(key); it != globals_.end()) {
      memo_index('h', 'j', it->second);  // BINGET / LONG_BINGET
      return;
    }
    out_ += 'c' + key;
    const uint32_t index = next_memo_++;
    globals_.emplace(key, index);
    memo_index('q', 'r', index);  // BINPUT / LONG_BINPUT
  }

  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      out_ += 'K';
      le(v, 1);
    } else if (v >= 0 && v < 65536) {
      out_ += 'M';
      le(v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      le(static_cast<uint32_t>(v), 4);
    } else {
      out_ += "\x8a\x08";  // LONG1, 8 bytes of two's complement
      le(static_cast<uint64_t>(v), 8);
    }
  }
  void floating(double v) {
    out_ += 'G';
    const uint64_t bits = std::bit_cast<uint64_t>(v);
    for (int i = 7; i >= 0; --i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);  // big-endian
  }
  void string(const std::string& s) {
    out_ += 'X';
    le(s.size(), 4);
    out_ += s;
  }
  void sequence_items(const std::vector<TorchValue>& items) {
    for (const TorchValue& item : items) write(item);
  }

  void write(const TorchValue& v) {
    using Kind = TorchValue::Kind;
    switch (v.kind()) {
      case Kind::none: out_ += 'N'; break;
      case Kind::boolean: out_ += v.as_bool() ? '\x88' : '\x89'; break;
      case Kind::integer: integer(v.as_int()); break;
      case Kind::floating: floating(v.as_double()); break;
      case Kind::string: string(v.as_string()); break;
      case Kind::tensor: tensor(v.as_tensor()); break;
      case Kind::list:
        out_ += ']';
        if (!v.items().empty()) {
          out_ += '(';
          sequence_items(v.items());
          out_ += 'e';  // APPENDS
        }
        break;
      case Kind::tuple: {
        const size_t n = v.items().size();
        if (n == 0) {
          out_ += ')';
        } else if (n <= 3) {
          sequence_items(v.items());
          out_ += static_cast<char>(0x85 + n - 1);  // TUPLE1..TUPLE3
        } else {
          out_ += '(';
          sequence_items(v.items());
          out_ += 't';
        }
        break;
      }
      case Kind::dict:
        if (v.is_ordered_dict()) {
          global("collections", "OrderedDict");
          out_ += ")R";  // OrderedDict()
        } else {
          out_ += '}';
        }
        if (!v.entries().empty()) {
          out_ += '(';
          for (const auto& e : v.entries()) {
            write(e.key);
            write(e.value);
          }
          out_ += 'u';  // SETITEMS
        }
        break;
    }
  }

  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False,
  // backward_hooks=OrderedDict()) with the storage as persistent id
  // ('storage', torch.<Type>Storage, key, 'cpu', numel).
  void tensor(const at::Tensor& value) {
    if (value.layout() != at::kStrided || value.is_quantized())
      throw Error("cannot save a tensor of layout " + c10::str(value.layout()));
    const at::Tensor t = value.device().is_cpu() ? value : value.to(at::kCPU);
    const StorageType* type = nullptr;
    for (const StorageType& s : kStorageTypes)
      if (s.dtype == t.scalar_type()) type = &s;
    if (!type)
      throw Error(std::string("cannot save a tensor of dtype ") + c10::toString(t.scalar_type()));

    const c10::Storage& storage = t.storage();
    auto [it, added] = storage_keys_.emplace(storage.unsafeGetStorageImpl(), StorageUse{});
    if (added) {
      it->second = {std::to_string(storages_.size()), t.scalar_type()};
      storages_.push_back({it->second.key, storage});
    } else if (it->second.dtype != t.scalar_type()) {
      throw Error("cannot save tensors of two dtypes that share one storage");
    }

    global("torch._utils", "_rebuild_tensor_v2");
    out_ += "((";
    string("storage");
    global("torch", type->name);
    string(it->second.key);
    string("cpu");
    integer(static_cast<int64_t>(storage.nbytes() / t.element_size()));
    out_ += "tQ";  // TUPLE, BINPERSID
    integer(t.storage_offset());
    int_tuple(t.sizes());
    int_tuple(t.strides());
    out_ += '\x89';  // requires_grad False: a checkpoint holds data, as state_dict() does
    global("collections", "OrderedDict");
    out_ += ")R";  // backward_hooks
    out_ += "tR";
  }
  void int_tuple(at::IntArrayRef values) {
    std::vector<TorchValue> items(values.begin(), values.end());
    write(TorchValue::tuple(std::move(items)));
  }

  struct StorageUse {
    std::string key;
    at::ScalarType dtype = at::kFloat;
  };
  std::vector<SavedStorage>& storages_;
  std::unordered_map<const c10::StorageImpl*, StorageUse> storage_keys_;
  std::unordered_map<std::string, uint32_t> globals_;
  uint32_t next_memo_ = 0;
  std::string out_;
};

}  // namespace

std::string dump(const TorchValue& value, std::vector<SavedStorage>& storages) {
  return Pickler(storages).run(value);
}

}  // namespace dinet::pickle
