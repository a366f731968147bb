#include "audio/deepspeech_network.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "audio/matvec.h"
#include "dinet/error.h"

namespace dinet::deepspeech {
namespace {

constexpr double kReluClip = 20.0;     // DeepSpeech's relu_clip
constexpr double kForgetBias = 1.0;    // BasicLSTMCell adds it at run time; it is not stored
constexpr int64_t kChunkSteps = 2048;  // input projections held at once, per direction

std::string shape_text(const at::Tensor& t) {
  if (!t.defined()) return "(missing)";
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// x W + b with a TensorFlow kernel W [in, out]. oneDNN when LibTorch has it: Debian's LibTorch
// does matrix products with the reference BLAS, an order of magnitude slower.
class Dense {
 public:
  Dense(const at::Tensor& kernel, const at::Tensor& bias)
      : weight_(kernel.t().contiguous()), bias_(bias.contiguous()) {
    if (at::hasMKLDNN()) weight_ = weight_.to_mkldnn();
  }
  at::Tensor operator()(const at::Tensor& x) const {
    if (weight_.is_mkldnn())
      return at::mkldnn_linear(x.contiguous().to_mkldnn(), weight_, bias_).to_dense();
    return at::addmm(bias_, x, weight_.t());
  }
  int64_t outputs() const { return weight_.size(0); }

 private:
  at::Tensor weight_;  // [out, in]
  at::Tensor bias_;
};

at::Tensor clipped_relu(at::Tensor x) { return x.clamp_(0.0, kReluClip); }

// One direction of the bidirectional layer: a TensorFlow BasicLSTMCell whose kernel acts on
// concat(input, h), split here into the input part (one big product per chunk of steps) and
// the recurrent part (one matrix-vector product per step).
struct Direction {
  Direction(const at::Tensor& kernel, const at::Tensor& bias)
      : hidden(kernel.size(1) / 4),
        input(kernel.slice(0, 0, kernel.size(0) - hidden), bias),
        recurrent(kernel.slice(0, kernel.size(0) - hidden).t().contiguous()) {}

  // Writes h for every step into columns [column, column + H) of `out` (T, 2H).
  void run(const at::Tensor& x, at::Tensor& out, int64_t column, bool reverse) const {
    const int64_t steps = x.size(0), h_size = hidden;
    at::Tensor gates = at::empty({4, h_size}, at::kFloat);  // i, j, f, o
    at::Tensor i = gates[0], j = gates[1], f = gates[2], o = gates[3];
    at::Tensor c = at::zeros({h_size}, at::kFloat);
    const at::Tensor zero_h = at::zeros({h_size}, at::kFloat);
    const float* h_prev = zero_h.data_ptr<float>();
    float* out_data = out.data_ptr<float>();
    const int64_t out_stride = out.size(1);
    for (int64_t done = 0; done < steps; done += kChunkSteps) {
      // The backward direction takes its chunks from the end, so each is used in order.
      const int64_t len = std::min(kChunkSteps, steps - done);
      const int64_t lo = reverse ? steps - done - len : done;
      const at::Tensor projected = input(x.slice(0, lo, lo + len)).contiguous();
      const float* p = projected.data_ptr<float>();
      for (int64_t k = 0; k < len; ++k) {
        const int64_t local = reverse ? len - 1 - k : k;
        std::memcpy(gates.data_ptr<float>(), p + local * 4 * h_size, 4 * h_size * sizeof(float));
        audio::matvec_accumulate(recurrent.data_ptr<float>(), h_prev, gates.data_ptr<float>(),
                                 4 * h_size, h_size);
        // c = sigmoid(f + 1) c + sigmoid(i) tanh(j); h = sigmoid(o) tanh(c)
        f.add_(kForgetBias);
        gates.narrow(0, 2, 2).sigmoid_();
        i.sigmoid_();
        j.tanh_();
        c.mul_(f).addcmul_(i, j);
        float* h = out_data + (lo + local) * out_stride + column;
        at::Tensor h_view = at::from_blob(h, {h_size}, at::kFloat);
        at::tanh_out(h_view, c).mul_(o);
        h_prev = h;
      }
    }
  }

  int64_t hidden;
  Dense input;
  at::Tensor recurrent;  // [4H, H]: row r is gate unit r's weights over h
};

}  // namespace

void check_shapes(const Weights& w, const std::string& source) {
  // -1 in `shape`: any size (a width read from this weight).
  auto need = [&](const at::Tensor& t, const std::string& name, std::vector<int64_t> shape) {
    bool fits = t.defined() && t.dim() == static_cast<int64_t>(shape.size());
    for (size_t k = 0; fits && k < shape.size(); ++k) fits = shape[k] < 0 || shape[k] == t.size(k);
    if (fits) return;
    std::string want = "[";
    for (size_t k = 0; k < shape.size(); ++k)
      want += (k ? ", " : "") + (shape[k] < 0 ? std::string("*") : std::to_string(shape[k]));
    throw Error(source, "DeepSpeech weight '" + name + "' has shape " + shape_text(t) +
                            " but the layers around it need " + want + "]");
  };
  need(w.h1, "h1", {-1, -1});
  need(w.b1, "b1", {w.h1.size(1)});
  need(w.h2, "h2", {w.h1.size(1), -1});
  need(w.b2, "b2", {w.h2.size(1)});
  need(w.h3, "h3", {w.h2.size(1), -1});
  need(w.b3, "b3", {w.h3.size(1)});
  need(w.fw_kernel, "fw LSTM kernel", {-1, -1});
  const int64_t hidden = w.fw_kernel.size(1) / 4;
  if (hidden == 0 || w.fw_kernel.size(1) % 4 != 0)
    throw Error(source, "DeepSpeech LSTM kernel has " + std::to_string(w.fw_kernel.size(1)) +
                            " columns, not 4 gates of equal width");
  for (const auto& [kernel, bias, name] :
       {std::tuple{&w.fw_kernel, &w.fw_bias, "fw"}, std::tuple{&w.bw_kernel, &w.bw_bias, "bw"}}) {
    need(*kernel, std::string(name) + " LSTM kernel", {w.h3.size(1) + hidden, 4 * hidden});
    need(*bias, std::string(name) + " LSTM bias", {4 * hidden});
  }
  need(w.h5, "h5", {2 * hidden, -1});
  need(w.b5, "b5", {w.h5.size(1)});
  need(w.h6, "h6", {w.h5.size(1), -1});
  need(w.b6, "b6", {w.h6.size(1)});
}

struct Network::Impl {
  explicit Impl(const Weights& w)
      : dense1(w.h1, w.b1), dense2(w.h2, w.b2), dense3(w.h3, w.b3),
        forward_cell(w.fw_kernel, w.fw_bias), backward_cell(w.bw_kernel, w.bw_bias),
        dense5(w.h5, w.b5), dense6(w.h6, w.b6), inputs(w.h1.size(0)) {}
  Dense dense1, dense2, dense3;
  Direction forward_cell, backward_cell;
  Dense dense5, dense6;
  int64_t inputs;
};

Network::Network(const Weights& weights, const std::string& source) {
  check_shapes(weights, source);
  Weights w = weights;
  for (at::Tensor* t : {&w.h1, &w.b1, &w.h2, &w.b2, &w.h3, &w.b3, &w.fw_kernel, &w.fw_bias,
                        &w.bw_kernel, &w.bw_bias, &w.h5, &w.b5, &w.h6, &w.b6})
    *t = t->to(at::kFloat).contiguous();
  impl_ = std::make_unique<Impl>(w);
}

Network::~Network() = default;

int64_t Network::inputs() const { return impl_->inputs; }
int64_t Network::outputs() const { return impl_->dense6.outputs(); }

std::string Network::describe() const {
  const Impl& n = *impl_;
  return std::to_string(n.inputs) + " -> " + std::to_string(n.dense1.outputs()) + " -> " +
         std::to_string(n.dense2.outputs()) + " -> " + std::to_string(n.dense3.outputs()) +
         " -> BiLSTM " + std::to_string(n.forward_cell.hidden) + " -> " +
         std::to_string(n.dense5.outputs()) + " -> " + std::to_string(outputs());
}

at::Tensor Network::forward(const at::Tensor& inputs, int64_t keep_every) const {
  const Impl& n = *impl_;
  if (inputs.dim() != 2 || inputs.size(1) != n.inputs || inputs.size(0) == 0)
    throw Error("DeepSpeech: the network takes (steps, " + std::to_string(n.inputs) +
                ") inputs, got " + shape_text(inputs));
  const at::Tensor x = inputs.to(at::kFloat).contiguous();
  const at::Tensor h3 = clipped_relu(n.dense3(clipped_relu(n.dense2(clipped_relu(n.dense1(x))))));
  const int64_t steps = x.size(0), hidden = n.forward_cell.hidden;
  at::Tensor rnn = at::empty({steps, 2 * hidden}, at::kFloat);
  // The directions are independent: with two threads each streams its own weights.
  at::parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
    for (int64_t d = begin; d < end; ++d)
      (d == 0 ? n.forward_cell : n.backward_cell).run(h3, rnn, d * hidden, d == 1);
  });
  const at::Tensor kept = keep_every == 1 ? rnn : rnn.slice(0, 0, steps, keep_every);
  return n.dense6(clipped_relu(n.dense5(kept)));
}

}  // namespace dinet::deepspeech
