// A restricted unpickler: Python objects are modelled by reference in an arena (pickles
// share objects through the memo and mutate them after memoising them), then converted to
// a TorchValue tree at the end. Globals are looked up in a fixed list and never called.
#include <ATen/ATen.h>

#include <bit>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "dinet/error.h"
#include "model/pickle.h"

namespace dinet::pickle {
namespace {

enum class Global { ordered_dict, rebuild_tensor, rebuild_tensor_v2, rebuild_parameter, storage_type };

struct Object {
  enum class Type { value, list, tuple, dict, global, storage };
  explicit Object(Type t, TorchValue v = {}) : type(t), value(std::move(v)) {}

  Type type;
  TorchValue value;                                  // value: None, bool, int, float, str, tensor
  std::vector<Object*> items;                        // list, tuple
  std::vector<std::pair<Object*, Object*>> entries;  // dict
  bool ordered = false;                              // dict
  Global global = Global::ordered_dict;              // global
  at::ScalarType dtype = at::kFloat;                 // global storage_type
  std::string name;                                  // global, for messages
  at::Tensor storage;                                // storage: 1-D tensor over its memory
};
using Type = Object::Type;

// Converted trees nest a few levels (checkpoint, state_dict, net, tensor); this bounds the
// recursion on crafted, deeply nested or self-referencing pickles.
constexpr int kMaxDepth = 200;
// An object the memo shares is converted once per reference, so a crafted pickle of lists
// holding two references to the list below grows exponentially; this bounds the work.
constexpr size_t kMaxConversionsPerObject = 16;

// Pickle opcodes (Python's Lib/pickle.py), the binary forms torch.save and Python emit.
// clang-format off
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BININT = 'J', BININT1 = 'K',
  BININT2 = 'M', NONE = 'N', BINPERSID = 'Q', REDUCE = 'R', BINSTRING = 'T',
  SHORT_BINSTRING = 'U', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd',
  APPENDS = 'e', BINGET = 'h', LONG_BINGET = 'j', LIST = 'l', BINPUT = 'q', LONG_BINPUT = 'r',
  SETITEM = 's', TUPLE = 't', SETITEMS = 'u', BINFLOAT = 'G', EMPTY_DICT = '}',
  EMPTY_LIST = ']', EMPTY_TUPLE = ')', PROTO = 0x80, TUPLE1 = 0x85, TUPLE2 = 0x86,
  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
};
// clang-format on

std::optional<Object> allowed_global(const std::string& module, const std::string& name) {
  static const std::map<std::string, Global> kCallables = {
      {"collections.OrderedDict", Global::ordered_dict},
      {"torch._utils._rebuild_tensor", Global::rebuild_tensor},
      {"torch._utils._rebuild_tensor_v2", Global::rebuild_tensor_v2},
      {"torch._utils._rebuild_parameter", Global::rebuild_parameter}};
  Object g{Type::global};
  g.name = module + "." + name;
  if (const auto it = kCallables.find(g.name); it != kCallables.end()) {
    g.global = it->second;
    return g;
  }
  for (const StorageType& s : kStorageTypes) {
    if (module == "torch" && name == s.name) {
      g.global = Global::storage_type;
      g.dtype = s.dtype;
      return g;
    }
  }
  return std::nullopt;
}

class Unpickler {
 public:
  Unpickler(std::string_view bytes, const StorageLoader& loader) : bytes_(bytes), loader_(loader) {}

  TorchValue run(size_t* consumed) {
    while (true) {
      const size_t at = pos_;
      const uint8_t op = static_cast<uint8_t>(take(1)[0]);
      try {
        if (op == STOP) break;
        step(op);
      } catch (const Error& e) {
        throw Error(std::string(e.what()) + " (pickle opcode 0x" + hex(op) + " at byte " +
                    std::to_string(at) + ")");
      }
    }
    if (stack_.size() != 1 || !marks_.empty()) fail("malformed pickle: unbalanced stack at STOP");
    if (consumed) *consumed = pos_;
    return convert(stack_.back(), 0);
  }

 private:
  [[noreturn]] static void fail(const std::string& problem) { throw Error(problem); }
  static std::string hex(uint8_t v) {
    const char* digits = "0123456789abcdef";
    return {digits[v >> 4], digits[v & 15]};
  }

  std::string_view take(size_t n) {
    if (n > bytes_.size() - pos_) fail("truncated pickle (ends inside the data)");
    std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint64_t take_le(size_t n) {
    const std::string_view s = take(n);
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
  }
  std::string take_line() {
    const size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) fail("truncated pickle (unterminated line)");
    std::string line(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return line;
  }

  Object* make(Object object) {
    arena_.push_back(std::make_unique<Object>(std::move(object)));
    return arena_.back().get();
  }
  Object* make_value(TorchValue v) { return make(Object{Type::value, std::move(v)}); }
  void push(Object* o) { stack_.push_back(o); }
  Object* pop() {
    if (stack_.size() <= floor()) fail("malformed pickle: stack underflow");
    Object* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Object* top() {
    if (stack_.size() <= floor()) fail("malformed pickle: stack underflow");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Object*> pop_to_mark() {
    if (marks_.empty()) fail("malformed pickle: no MARK");
    std::vector<Object*> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()),
                               stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Object* expect(Object* o, Type type, const char* what) {
    if (o->type != type) fail(std::string("malformed pickle: expected ") + what);
    return o;
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  Object* memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end())
      fail("malformed pickle: memo entry " + std::to_string(index) + " is missing");
    return it->second;
  }
  void push_global(const std::string& module, const std::string& name) {
    auto g = allowed_global(module, name);
    if (!g)
      fail("refusing forbidden pickle global '" + module + "." + name +
           "' (only tensors, storages and OrderedDict are accepted; no code is run)");
    push(make(std::move(*g)));
  }
  void add_items(Object* dict, const std::vector<Object*>& kv) {
    expect(dict, Type::dict, "a dict for SETITEMS");
    if (kv.size() % 2) fail("malformed pickle: odd number of dict items");
    for (size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
  }

  void step(uint8_t op);
  Object* reduce(Object* callable, Object* args);
  void persistent_load(Object* pid);
  TorchValue convert(const Object* o, int depth);

  std::string_view bytes_;
  const StorageLoader& loader_;
  size_t pos_ = 0;
  std::vector<std::unique_ptr<Object>> arena_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Object*> memo_;
  std::map<std::string, at::Tensor> storages_;
  size_t conversions_ = 0;
};

int64_t int_of(const Object* o, const char* what) {
  if (o->type != Type::value || o->value.kind() != TorchValue::Kind::integer)
    throw Error(std::string("malformed tensor record: ") + what + " is not an int");
  return o->value.as_int();
}

std::vector<int64_t> ints_of(const Object* o, const char* what) {
  if (o->type != Type::tuple)
    throw Error(std::string("malformed tensor record: ") + what + " is not a tuple");
  std::vector<int64_t> v;
  for (const Object* item : o->items) v.push_back(int_of(item, what));
  return v;
}

// A view of `storage` as torch._utils._rebuild_tensor builds it, after checking that every
// element it addresses lies inside the storage (set_ would silently grow it otherwise).
at::Tensor rebuild_tensor(const at::Tensor& storage, int64_t offset,
                          const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
  if (size.size() != stride.size())
    throw Error("malformed tensor record: size and stride differ in length");
  if (offset < 0) throw Error("malformed tensor record: negative storage offset");
  int64_t last = offset;
  bool empty = false;
  for (size_t i = 0; i < size.size(); ++i) {
    if (size[i] < 0 || stride[i] < 0)
      throw Error("malformed tensor record: negative size or stride");
    if (size[i] == 0) empty = true;
    int64_t span = 0;
    if (size[i] > 0 && (__builtin_mul_overflow(size[i] - 1, stride[i], &span) ||
                        __builtin_add_overflow(last, span, &last)))
      throw Error("malformed tensor record: size overflows");
  }
  if (empty ? offset > storage.numel() : last >= storage.numel())
    throw Error("malformed tensor record: the tensor reaches past its storage of " +
                std::to_string(storage.numel()) + " elements");
  return at::empty({0}, storage.options())
      .set_(storage.storage(), storage.storage_offset() + offset, size, stride);
}

void Unpickler::step(uint8_t op) {
  switch (op) {
    case PROTO: take(1); break;
    case FRAME: take(8); break;
    case MARK: marks_.push_back(stack_.size()); break;
    case POP: pop(); break;
    case POP_MARK: pop_to_mark(); break;
    case DUP: push(top()); break;
    case NONE: push(make_value({})); break;
    case NEWTRUE: push(make_value(true)); break;
    case NEWFALSE: push(make_value(false)); break;
    case BININT: push(make_value(static_cast<int32_t>(take_le(4)))); break;
    case BININT1: push(make_value(take_le(1))); break;
    case BININT2: push(make_value(take_le(2))); break;
    case LONG1: {
      const size_t n = take_le(1);
      if (n > 8) fail("integer wider than 64 bits");
      uint64_t v = take_le(n);
      // Two's complement of n bytes: sign-extend from the top byte.
      if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
      push(make_value(static_cast<int64_t>(v)));
      break;
    }
    case BINFLOAT: {
      uint64_t bits = 0;
      for (const char c : take(8))
        bits = (bits << 8) | static_cast<unsigned char>(c);  // big-endian
      push(make_value(std::bit_cast<double>(bits)));
      break;
    }
    // Python 2 str (old legacy files) and Python 3 str; both become UTF-8 text.
    case SHORT_BINSTRING: push(make_value(std::string(take(take_le(1))))); break;
    case BINSTRING: push(make_value(std::string(take(take_le(4))))); break;
    case SHORT_BINUNICODE: push(make_value(std::string(take(take_le(1))))); break;
    case BINUNICODE: push(make_value(std::string(take(take_le(4))))); break;
    case BINUNICODE8: push(make_value(std::string(take(take_le(8))))); break;
    case EMPTY_LIST: push(make(Object{Type::list})); break;
    case EMPTY_TUPLE: push(make(Object{Type::tuple})); break;
    case EMPTY_DICT: push(make(Object{Type::dict})); break;
    case LIST: {
      Object list{Type::list};
      list.items = pop_to_mark();
      push(make(std::move(list)));
      break;
    }
    case TUPLE: {
      Object tuple{Type::tuple};
      tuple.items = pop_to_mark();
      push(make(std::move(tuple)));
      break;
    }
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      Object tuple{Type::tuple};
      tuple.items.resize(op - TUPLE1 + 1);
      for (size_t i = tuple.items.size(); i-- > 0;) tuple.items[i] = pop();
      push(make(std::move(tuple)));
      break;
    }
    case DICT: {
      Object* dict = make(Object{Type::dict});
      add_items(dict, pop_to_mark());
      push(dict);
      break;
    }
    case APPEND: {
      Object* item = pop();
      expect(top(), Type::list, "a list for APPEND")->items.push_back(item);
      break;
    }
    case APPENDS: {
      std::vector<Object*> items = pop_to_mark();
      Object* list = expect(top(), Type::list, "a list for APPENDS");
      list->items.insert(list->items.end(), items.begin(), items.end());
      break;
    }
    case SETITEM: {
      Object* value = pop();
      Object* key = pop();
      add_items(top(), {key, value});
      break;
    }
    case SETITEMS: {
      std::vector<Object*> kv = pop_to_mark();
      add_items(top(), kv);
      break;
    }
    case BINPUT: memo_put(take_le(1)); break;
    case LONG_BINPUT: memo_put(take_le(4)); break;
    case MEMOIZE: memo_put(memo_.size()); break;
    case BINGET: push(memo_get(take_le(1))); break;
    case LONG_BINGET: push(memo_get(take_le(4))); break;
    case GLOBAL: {
      const std::string module = take_line();
      const std::string name = take_line();
      push_global(module, name);
      break;
    }
    case STACK_GLOBAL: {
      Object* name = pop();
      Object* module = pop();
      if (name->type != Type::value || module->type != Type::value ||
          name->value.kind() != TorchValue::Kind::string ||
          module->value.kind() != TorchValue::Kind::string)
        fail("malformed pickle: STACK_GLOBAL needs two strings");
      push_global(module->value.as_string(), name->value.as_string());
      break;
    }
    case REDUCE: {
      Object* args = expect(pop(), Type::tuple, "an argument tuple for REDUCE");
      Object* callable = pop();
      push(reduce(callable, args));
      break;
    }
    case BUILD: {
      pop();
      // state_dict() is an OrderedDict carrying a `_metadata` attribute (module versions);
      // attributes are not items, and loading needs none of them.
      if (top()->type != Type::dict || !top()->ordered) fail("unsupported BUILD of an object");
      break;
    }
    case BINPERSID: persistent_load(pop()); break;
    default: fail("unsupported pickle opcode");
  }
}

Object* Unpickler::reduce(Object* callable, Object* args) {
  if (callable->type != Type::global) fail("malformed pickle: REDUCE of a non-callable");
  const auto& a = args->items;
  switch (callable->global) {
    case Global::ordered_dict: {
      if (!a.empty()) fail("unsupported OrderedDict construction with arguments");
      Object dict{Type::dict};
      dict.ordered = true;
      return make(std::move(dict));
    }
    case Global::rebuild_tensor:
    case Global::rebuild_tensor_v2: {
      // v1: (storage, offset, size, stride); v2 adds requires_grad, backward_hooks and, in
      // newer PyTorch, metadata. Checkpoints hold data, so the autograd fields are dropped.
      const bool v2 = callable->global == Global::rebuild_tensor_v2;
      if (a.size() != (v2 ? 6u : 4u) && !(v2 && a.size() == 7))
        fail("malformed pickle: wrong argument count for " + callable->name);
      if (a[0]->type != Type::storage)
        fail("malformed pickle: " + callable->name + " without a storage");
      return make_value(rebuild_tensor(a[0]->storage, int_of(a[1], "storage offset"),
                                       ints_of(a[2], "size"), ints_of(a[3], "stride")));
    }
    case Global::rebuild_parameter: {
      if (a.size() != 3 || a[0]->type != Type::value ||
          a[0]->value.kind() != TorchValue::Kind::tensor)
        fail("malformed pickle: bad arguments for " + callable->name);
      return a[0];
    }
    case Global::storage_type: break;
  }
  fail("refusing to call " + callable->name);
}

// ('storage', torch.<Type>Storage, key, location, numel[, view_metadata]); the legacy format
// adds view_metadata = None or (view_key, offset, view_numel) for views of a root storage.
void Unpickler::persistent_load(Object* pid) {
  const auto& p = expect(pid, Type::tuple, "a tuple persistent id")->items;
  const auto is_string = [](const Object* o) {
    return o->type == Type::value && o->value.kind() == TorchValue::Kind::string;
  };
  if (p.size() < 5 || p.size() > 6 || !is_string(p[0]) || p[0]->value.as_string() != "storage")
    fail("unsupported persistent id (not a storage)");
  if (p[1]->type != Type::global || p[1]->global != Global::storage_type)
    fail("malformed persistent id: no storage type");
  if (!is_string(p[2])) fail("malformed persistent id: the key is not a string");
  const StorageRef ref{p[2]->value.as_string(), p[1]->dtype, int_of(p[4], "storage size")};
  if (ref.numel < 0) fail("malformed persistent id: negative storage size");
  auto it = storages_.find(ref.key);
  if (it == storages_.end()) {
    at::Tensor data = loader_(ref);
    it = storages_.emplace(ref.key, std::move(data)).first;
  } else if (it->second.scalar_type() != ref.dtype || it->second.numel() != ref.numel) {
    fail("storage '" + ref.key + "' is referenced with two different types or sizes");
  }
  Object storage{Type::storage};
  storage.storage = it->second;
  if (p.size() == 6 && !(p[5]->type == Type::value && p[5]->value.is_none())) {
    const auto& view = expect(p[5], Type::tuple, "a tuple view description")->items;
    if (view.size() != 3) fail("malformed persistent id: bad view description");
    const int64_t offset = int_of(view[1], "view offset");
    const int64_t numel = int_of(view[2], "view size");
    if (offset < 0 || numel < 0 || offset > ref.numel || numel > ref.numel - offset)
      fail("malformed persistent id: the view reaches past its storage");
    storage.storage = storage.storage.narrow(0, offset, numel);
  }
  push(make(std::move(storage)));
}

TorchValue Unpickler::convert(const Object* o, int depth) {
  if (depth > kMaxDepth) fail("pickle nests deeper than " + std::to_string(kMaxDepth) + " levels");
  if (++conversions_ > kMaxConversionsPerObject * arena_.size())
    fail("the pickle references its objects too many times");
  switch (o->type) {
    case Type::value: return o->value;
    case Type::list:
    case Type::tuple: {
      std::vector<TorchValue> items;
      items.reserve(o->items.size());
      for (const Object* item : o->items) items.push_back(convert(item, depth + 1));
      return o->type == Type::list ? TorchValue::list(std::move(items))
                                   : TorchValue::tuple(std::move(items));
    }
    case Type::dict: {
      TorchValue dict = o->ordered ? TorchValue::ordered_dict() : TorchValue::dict();
      for (const auto& [key, value] : o->entries)
        dict.set(convert(key, depth + 1), convert(value, depth + 1));
      return dict;
    }
    case Type::global: fail("the pickle holds a bare global '" + o->name + "'");
    case Type::storage: fail("the pickle holds a bare storage, not a tensor");
  }
  fail("malformed pickle");
}

}  // namespace

TorchValue load(std::string_view bytes, const StorageLoader& load_storage, size_t* consumed) {
  return Unpickler(bytes, load_storage).run(consumed);
}

}  // namespace dinet::pickle
