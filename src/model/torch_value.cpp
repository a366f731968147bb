#include <ATen/ATen.h>

#include <bit>
#include <sstream>

#include "dinet/error.h"
#include "dinet/torch_file.h"

namespace dinet {
namespace {

const char* kind_name(TorchValue::Kind kind) {
  switch (kind) {
    case TorchValue::Kind::none: return "None";
    case TorchValue::Kind::boolean: return "a bool";
    case TorchValue::Kind::integer: return "an int";
    case TorchValue::Kind::floating: return "a float";
    case TorchValue::Kind::string: return "a str";
    case TorchValue::Kind::tensor: return "a tensor";
    case TorchValue::Kind::list: return "a list";
    case TorchValue::Kind::tuple: return "a tuple";
    case TorchValue::Kind::dict: return "a dict";
  }
  return "?";
}

// "expected an int, found a str 'x'": containers are not printed, they can be huge.
void expect_kind(const TorchValue& v, TorchValue::Kind wanted) {
  using Kind = TorchValue::Kind;
  if (v.kind() == wanted) return;
  const bool container =
      v.kind() == Kind::dict || v.kind() == Kind::list || v.kind() == Kind::tuple;
  throw Error(std::string("expected ") + kind_name(wanted) + ", found " + kind_name(v.kind()) +
              (container ? "" : " " + v.repr()));
}

// An exact, injective text for a dict key, by which a dict indexes its entries. Python refuses
// unhashable keys (lists, dicts); tensors hash by identity, which a file cannot keep, so they
// are refused too. Unlike in Python, 1, 1.0 and True are three different keys.
std::string key_signature(const TorchValue& key) {
  using Kind = TorchValue::Kind;
  // Built by appending: GCC 12 warns falsely on `"s" + string` here (-Wstringop-overflow).
  std::string signature;
  switch (key.kind()) {
    case Kind::none: signature = "N"; break;
    case Kind::boolean: signature = key.as_bool() ? "T" : "F"; break;
    case Kind::integer: signature.append("i").append(std::to_string(key.as_int())); break;
    case Kind::floating:
      signature.append("f").append(std::to_string(std::bit_cast<uint64_t>(key.as_double())));
      break;
    case Kind::string: signature.append("s").append(key.as_string()); break;
    case Kind::tuple:
      signature.append("t").append(std::to_string(key.items().size()));
      for (const TorchValue& item : key.items()) {
        const std::string part = key_signature(item);
        signature.append(":").append(std::to_string(part.size())).append(":").append(part);
      }
      break;
    default: throw Error("unhashable dict key of type " + key.type_name());
  }
  return signature;
}

}  // namespace

TorchValue TorchValue::list(std::vector<TorchValue> items) {
  TorchValue v;
  v.data_ = List{std::move(items)};
  return v;
}

TorchValue TorchValue::tuple(std::vector<TorchValue> items) {
  TorchValue v;
  v.data_ = Tuple{std::move(items)};
  return v;
}

TorchValue TorchValue::dict() {
  TorchValue v;
  v.data_ = Dict{};
  return v;
}

TorchValue TorchValue::ordered_dict() {
  TorchValue v;
  v.data_ = Dict{{}, {}, true};
  return v;
}

std::string TorchValue::type_name() const {
  static const char* names[] = {"NoneType", "bool", "int",   "float", "str",
                                "Tensor",   "list", "tuple", "dict"};
  return is_ordered_dict() ? "OrderedDict" : names[data_.index()];
}

bool TorchValue::is_ordered_dict() const {
  const auto* d = std::get_if<Dict>(&data_);
  return d && d->ordered;
}

bool TorchValue::as_bool() const {
  expect_kind(*this, Kind::boolean);
  return std::get<bool>(data_);
}

int64_t TorchValue::as_int() const {
  expect_kind(*this, Kind::integer);
  return std::get<int64_t>(data_);
}

double TorchValue::as_double() const {
  if (kind() == Kind::integer) return static_cast<double>(std::get<int64_t>(data_));
  expect_kind(*this, Kind::floating);
  return std::get<double>(data_);
}

const std::string& TorchValue::as_string() const {
  expect_kind(*this, Kind::string);
  return std::get<std::string>(data_);
}

const at::Tensor& TorchValue::as_tensor() const {
  expect_kind(*this, Kind::tensor);
  return std::get<at::Tensor>(data_);
}

const std::vector<TorchValue>& TorchValue::items() const {
  if (const auto* t = std::get_if<Tuple>(&data_)) return t->items;
  expect_kind(*this, Kind::list);
  return std::get<List>(data_).items;
}

std::vector<TorchValue>& TorchValue::items() {
  if (auto* t = std::get_if<Tuple>(&data_)) return t->items;
  expect_kind(*this, Kind::list);
  return std::get<List>(data_).items;
}

const std::vector<TorchValue::Entry>& TorchValue::entries() const {
  expect_kind(*this, Kind::dict);
  return std::get<Dict>(data_).entries;
}

void TorchValue::append(TorchValue value) {
  expect_kind(*this, Kind::list);
  std::get<List>(data_).items.push_back(std::move(value));
}

const TorchValue* TorchValue::find(const TorchValue& key) const {
  expect_kind(*this, Kind::dict);
  const Dict& dict = std::get<Dict>(data_);
  const auto it = dict.index.find(key_signature(key));
  return it == dict.index.end() ? nullptr : &dict.entries[it->second].value;
}

const TorchValue& TorchValue::at(const TorchValue& key) const {
  if (const TorchValue* v = find(key)) return *v;
  throw Error("no key " + key.repr());
}

TorchValue& TorchValue::set(TorchValue key, TorchValue value) {
  expect_kind(*this, Kind::dict);
  Dict& dict = std::get<Dict>(data_);
  const auto [it, added] = dict.index.emplace(key_signature(key), dict.entries.size());
  if (added) {
    dict.entries.push_back({std::move(key), std::move(value)});
    return dict.entries.back().value;
  }
  return dict.entries[it->second].value = std::move(value);
}

std::string TorchValue::repr() const {
  std::ostringstream out;
  switch (kind()) {
    case Kind::none: return "None";
    case Kind::boolean: return as_bool() ? "True" : "False";
    case Kind::integer: return std::to_string(as_int());
    case Kind::floating: out << as_double(); return out.str();
    case Kind::string: return "'" + as_string() + "'";
    case Kind::tensor: {
      out << "tensor(" << as_tensor().scalar_type() << ", " << as_tensor().sizes() << ")";
      return out.str();
    }
    case Kind::list:
    case Kind::tuple: {
      const bool is_list = kind() == Kind::list;
      out << (is_list ? "[" : "(");
      for (size_t i = 0; i < items().size(); ++i) out << (i ? ", " : "") << items()[i].repr();
      out << (is_list ? "]" : (items().size() == 1 ? ",)" : ")"));
      return out.str();
    }
    case Kind::dict: return type_name() + " of " + std::to_string(entries().size()) + " entries";
  }
  return "?";
}

}  // namespace dinet
