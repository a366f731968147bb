// Reads DeepSpeech's weights from a frozen TensorFlow graph with our own GraphDef subset
// (graphdef.proto): the weights are Const nodes, found by name.
#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <cstring>
#include <unordered_map>

#include "audio/deepspeech_network.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "src/audio/graphdef.pb.h"

namespace dinet::deepspeech {
namespace fs = std::filesystem;
namespace {

class ConstNodes {
 public:
  ConstNodes(const tf::GraphDef& graph, std::string source) : source_(std::move(source)) {
    for (const tf::NodeDef& node : graph.node())
      if (node.op() == "Const") nodes_.emplace(node.name(), &node);
  }

  // The constant named `names[k]`, or whose name ends in "/" + names[k], for the first k
  // that matches: DeepSpeech versions and export scripts name and scope weights differently.
  at::Tensor find(const std::vector<std::string>& names) const {
    for (const std::string& name : names) {
      const tf::NodeDef* found = nullptr;
      for (const auto& [node_name, node] : nodes_) {
        const bool match = node_name == name ||
                           (node_name.size() > name.size() &&
                            node_name.compare(node_name.size() - name.size() - 1,
                                              std::string::npos, "/" + name) == 0);
        if (!match) continue;
        if (found)
          throw Error(source_, "two constants match DeepSpeech weight '" + name + "': '" +
                                   found->name() + "' and '" + node_name + "'");
        found = node;
      }
      if (found) return to_tensor(*found);
    }
    std::string tried;
    for (const std::string& name : names) tried += (tried.empty() ? "'" : ", '") + name + "'";
    throw Error(source_, "no constant named " + tried + ": not the DeepSpeech v0.1.0 graph (" +
                             std::to_string(nodes_.size()) + " constants in this graph)");
  }

 private:
  at::Tensor to_tensor(const tf::NodeDef& node) const {
    const auto value = node.attr().find("value");
    if (value == node.attr().end() || !value->second.has_tensor())
      throw Error(source_, "constant '" + node.name() + "' has no tensor value");
    const tf::TensorProto& proto = value->second.tensor();
    if (proto.dtype() != tf::DT_FLOAT)
      throw Error(source_, "constant '" + node.name() + "' is not float32 (TensorFlow dtype " +
                               std::to_string(proto.dtype()) + ")");
    std::vector<int64_t> shape;
    for (const auto& dim : proto.tensor_shape().dim()) shape.push_back(dim.size());
    at::Tensor t = at::empty(shape, at::kFloat);
    const auto count = static_cast<size_t>(t.numel());
    const std::string& content = proto.tensor_content();
    if (!content.empty()) {
      if (content.size() != count * sizeof(float))
        throw Error(source_, "constant '" + node.name() + "' holds " +
                                 std::to_string(content.size()) + " bytes for " +
                                 std::to_string(count) + " float32 values");
      std::memcpy(t.data_ptr<float>(), content.data(), content.size());
    } else if (proto.float_val_size() == static_cast<int>(count)) {
      std::copy(proto.float_val().begin(), proto.float_val().end(), t.data_ptr<float>());
    } else if (proto.float_val_size() == 1) {  // one value repeated to fill the shape
      t.fill_(proto.float_val(0));
    } else {
      throw Error(source_, "constant '" + node.name() + "' has " +
                               std::to_string(proto.float_val_size()) + " values for " +
                               std::to_string(count) + " elements");
    }
    return t;
  }

  std::string source_;
  std::unordered_map<std::string, const tf::NodeDef*> nodes_;
};

}  // namespace

Weights read_graph(const fs::path& file) {
  require_file(file, "DeepSpeech graph");
  tf::GraphDef graph;
  {
    const int fd = ::open(file.c_str(), O_RDONLY);
    if (fd < 0) throw Error(file.string(), std::string("cannot open: ") + std::strerror(errno));
    google::protobuf::io::FileInputStream stream(fd);
    stream.SetCloseOnDelete(true);
    if (!graph.ParseFromZeroCopyStream(&stream))
      throw Error(file.string(), "not a TensorFlow GraphDef (protobuf parsing failed)");
  }
  const ConstNodes consts(graph, file.string());
  // v0.1.0 names the dense layers h1/b1 ... h6/b6; the LSTM cells follow TensorFlow's
  // BasicLSTMCell naming (kernel/bias since TF 1.2, weights/biases before).
  auto lstm = [&](const std::string& dir, const char* tf12, const char* tf10) {
    const std::string cell = "bidirectional_rnn/" + dir + "/basic_lstm_cell/";
    return consts.find({cell + tf12, cell + tf10});
  };
  Weights w;
  w.h1 = consts.find({"h1"});
  w.b1 = consts.find({"b1"});
  w.h2 = consts.find({"h2"});
  w.b2 = consts.find({"b2"});
  w.h3 = consts.find({"h3"});
  w.b3 = consts.find({"b3"});
  w.fw_kernel = lstm("fw", "kernel", "weights");
  w.fw_bias = lstm("fw", "bias", "biases");
  w.bw_kernel = lstm("bw", "kernel", "weights");
  w.bw_bias = lstm("bw", "bias", "biases");
  w.h5 = consts.find({"h5"});
  w.b5 = consts.find({"b5"});
  w.h6 = consts.find({"h6"});
  w.b6 = consts.find({"b6"});
  check_shapes(w, file.string());
  return w;
}

}  // namespace dinet::deepspeech
