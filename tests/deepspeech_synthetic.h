// A synthetic DeepSpeech v0.1.0 graph for tests: v0.1.0's node names with random weights,
// written byte by byte in TensorFlow's wire format (not with our own proto classes, so a
// wrong field number in src/audio/graphdef.proto would show).
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace dinet::test {

using Weights = std::map<std::string, at::Tensor>;
inline const std::string kFw = "bidirectional_rnn/fw/basic_lstm_cell/";
inline const std::string kBw = "bidirectional_rnn/bw/basic_lstm_cell/";

// Protocol buffer wire format: varints and length-delimited fields.
struct Wire {
  std::string out;
  void varint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7f) | 0x80);
    out += static_cast<char>(v);
  }
  void number(int field, uint64_t v) { varint(uint64_t(field) << 3), varint(v); }
  void bytes(int field, const std::string& s) {
    varint((uint64_t(field) << 3) | 2);
    varint(s.size());
    out += s;
  }
};

inline std::string raw_floats(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kFloat).contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<float>()), c.numel() * 4);
}

// tensorflow.NodeDef {name=1, op=2, input=3, attr=5}; AttrValue {type=6, tensor=8};
// TensorProto {dtype=1, tensor_shape=2 {dim=2 {size=1}}, tensor_content=4, float_val=5}.
inline std::string const_node(const std::string& name, const at::Tensor& t, bool as_float_val) {
  Wire tensor, shape, value, dtype_attr, node;
  tensor.number(1, 1);  // DT_FLOAT
  for (int64_t d : t.sizes()) {
    Wire dim;
    dim.number(1, d);
    shape.bytes(2, dim.out);
  }
  tensor.bytes(2, shape.out);
  tensor.bytes(as_float_val ? 5 : 4, raw_floats(t));  // float_val packed, or tensor_content
  value.bytes(8, tensor.out);
  Wire entry;
  entry.bytes(1, "value");
  entry.bytes(2, value.out);
  dtype_attr.number(6, 1);  // attr "dtype" {type: DT_FLOAT}: a field our subset skips
  Wire dtype_entry;
  dtype_entry.bytes(1, "dtype");
  dtype_entry.bytes(2, dtype_attr.out);
  node.bytes(1, name);
  node.bytes(2, "Const");
  node.bytes(5, dtype_entry.out);
  node.bytes(5, entry.out);
  return node.out;
}

inline std::string other_node(const std::string& name, const std::string& op, const std::string& input) {
  Wire node;
  node.bytes(1, name);
  node.bytes(2, op);
  if (!input.empty()) node.bytes(3, input);
  return node.out;
}

inline void write_graph(const std::filesystem::path& file, const Weights& weights) {
  Wire graph;
  graph.bytes(1, other_node("input_node", "Placeholder", ""));
  for (const auto& [name, t] : weights) {
    graph.bytes(1, const_node(name, t, /*as_float_val=*/name == "b6"));
    graph.bytes(1, other_node(name + "/read", "Identity", name));
  }
  Wire versions;
  versions.number(1, 24);
  graph.bytes(4, versions.out);  // GraphDef.versions, unknown to our subset
  std::ofstream(file, std::ios::binary) << graph.out;
}

// Random weights with the given widths, scaled so that activations neither vanish nor clip.
inline Weights random_weights(int64_t h1, int64_t h2, int64_t h3, int64_t cell, int64_t h5,
                       uint64_t seed) {
  at::manual_seed(seed);
  auto dense = [](int64_t in, int64_t out) { return at::randn({in, out}) / std::sqrt(double(in)); };
  Weights w;
  w["h1"] = dense(494, h1) * 3;
  w["b1"] = at::randn({h1}) * 0.5;
  w["h2"] = dense(h1, h2) * 2;
  w["b2"] = at::randn({h2}) * 0.5;
  w["h3"] = dense(h2, h3) * 2;
  w["b3"] = at::randn({h3}) * 0.5;
  w[kFw + "kernel"] = dense(h3 + cell, 4 * cell) * 0.2;
  w[kFw + "bias"] = at::randn({4 * cell}) * 0.3;
  w[kBw + "kernel"] = dense(h3 + cell, 4 * cell) * 0.2;
  w[kBw + "bias"] = at::randn({4 * cell}) * 0.3;
  w["h5"] = dense(2 * cell, h5) * 4;
  w["b5"] = at::randn({h5}) * 0.5;
  w["h6"] = dense(h5, 29);
  w["b6"] = at::randn({29});
  return w;
}

}  // namespace dinet::test
