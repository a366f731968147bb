#include "dinet/npy.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dinet/error.h"
#include "dinet/files.h"

namespace dinet {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// The header is a Python dict literal such as
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"; this parser accepts exactly
// that grammar (quoted keys, quoted strings, True/False, tuples of integers).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  Header parse() {
    Header header;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (!accept('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        header.descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        header.shape = int_tuple();
        have_shape = true;
      } else {
        fail("unknown header key '" + key + "'");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!have_descr || !have_order || !have_shape)
      fail("header lacks 'descr', 'fortran_order' or 'shape'");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(file_, "bad .npy header: " + problem);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n')) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  std::string quoted() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      fail("expected a string");
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    for (auto [word, value] : {std::pair{std::string_view("True"), true}, {"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    fail("expected True or False");
  }
  std::vector<int64_t> int_tuple() {
    std::vector<int64_t> values;
    expect('(');
    while (!accept(')')) {
      skip_space();
      int64_t v = 0;
      const size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("dimension too large");
        v = v * 10 + (text_[pos_++] - '0');
      }
      if (pos_ == start) fail("expected a dimension");
      values.push_back(v);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return values;
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
};

std::optional<at::ScalarType> dtype_of(const std::string& descr) {
  if (descr == "<f4") return at::kFloat;
  if (descr == "<f8") return at::kDouble;
  if (descr == "<i8") return at::kLong;
  if (descr == "<i4") return at::kInt;
  if (descr == "|u1") return at::kByte;
  if (descr == "|b1") return at::kBool;
  return std::nullopt;
}

uint32_t read_le(std::string_view bytes) {
  uint32_t v = 0;
  for (size_t i = bytes.size(); i-- > 0;) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

}  // namespace

at::Tensor read_npy(const std::filesystem::path& file) {
  const std::string name = file.string();
  const std::string bytes = read_file(file);
  if (bytes.size() < kMagic.size() + 2 ||
      std::string_view(bytes).substr(0, kMagic.size()) != kMagic)
    throw Error(name, "not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[kMagic.size()]);
  if (major < 1 || major > 3)
    throw Error(name, "unsupported .npy format version " + std::to_string(major));
  // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4.
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t header_start = kMagic.size() + 2 + length_bytes;
  if (bytes.size() < header_start) throw Error(name, "truncated .npy header");
  const size_t header_length =
      read_le(std::string_view(bytes).substr(kMagic.size() + 2, length_bytes));
  if (bytes.size() - header_start < header_length) throw Error(name, "truncated .npy header");
  const Header header =
      HeaderParser(std::string_view(bytes).substr(header_start, header_length), name).parse();

  if (header.fortran_order)
    throw Error(name, "Fortran-order arrays are not supported (save in C order)");
  const auto dtype = dtype_of(header.descr);
  if (!dtype)
    throw Error(name, "unsupported dtype '" + header.descr +
                          "' (supported: <f4, <f8, <i8, <i4, |u1, |b1; little-endian only)");
  int64_t numel = 1;
  for (const int64_t d : header.shape) {
    if (d != 0 && numel > std::numeric_limits<int64_t>::max() / d)
      throw Error(name, "shape too large");
    numel *= d;
  }
  const size_t element_size = at::elementSize(*dtype);
  const size_t data_start = header_start + header_length;
  const size_t available = bytes.size() - data_start;
  if (static_cast<uint64_t>(numel) > available / element_size)
    throw Error(name, "truncated: the shape needs " + std::to_string(numel) + " elements of " +
                          std::to_string(element_size) + " bytes, the file holds " +
                          std::to_string(available) + " bytes of data");
  if (available != static_cast<size_t>(numel) * element_size)
    throw Error(name, std::to_string(available - numel * element_size) +
                          " unexpected bytes after the array data");
  at::Tensor tensor = at::empty(header.shape, at::TensorOptions().dtype(*dtype));
  if (numel > 0) std::memcpy(tensor.data_ptr(), bytes.data() + data_start, available);
  return tensor;
}

void write_npy(const std::filesystem::path& file, const at::Tensor& tensor) {
  const at::Tensor data = tensor.detach().to(at::kCPU, at::kFloat).contiguous();
  std::string shape = "(";
  for (int64_t i = 0; i < data.dim(); ++i) {
    shape += std::to_string(data.size(i));
    shape += data.dim() == 1 ? "," : (i + 1 < data.dim() ? ", " : "");
  }
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // NumPy pads the header with spaces so that the data starts on a 64-byte boundary.
  const size_t prefix = kMagic.size() + 2 + 2;
  header.append(63 - (prefix + header.size()) % 64, ' ');
  header += '\n';

  std::string bytes(kMagic);
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(static_cast<const char*>(data.data_ptr()), data.numel() * sizeof(float));
  write_file_atomic(file, bytes);
}

}  // namespace dinet
