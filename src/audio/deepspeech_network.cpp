#include "audio/deepspeech_network.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>  // at::get_num_threads

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "audio/matvec.h"
#include "audio/spin_barrier.h"
#include "dinet/error.h"
#include "dinet/interrupt.h"

namespace dinet::deepspeech {
namespace {

constexpr double kReluClip = 20.0;     // DeepSpeech's relu_clip
constexpr double kForgetBias = 1.0;    // BasicLSTMCell adds it at run time; it is not stored
constexpr int64_t kChunkSteps = 2048;  // input projections held at once, per direction
// A chunk's recurrence takes several seconds at v0.1.0's sizes; Ctrl-C is looked for this often.
constexpr int64_t kStepsBetweenChecks = 256;

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

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// The hidden units [begin, end) of one LSTM direction that one thread updates.
struct Units {
  int64_t begin, end;
};

// One direction of the bidirectional layer: a TensorFlow BasicLSTMCell whose kernel acts on
// concat(input, h), split here into the input part (one big product per chunk of steps) and
// the recurrent part (one matrix-vector product per step, fp32, bfloat16 or int8 weights).
struct Direction {
  Direction(const at::Tensor& kernel, const at::Tensor& bias, DeepSpeechPrecision precision)
      : hidden(kernel.size(1) / 4), input(kernel.slice(0, 0, kernel.size(0) - hidden), bias) {
    const at::Tensor w = kernel.slice(0, kernel.size(0) - hidden).t().contiguous();
    if (precision == DeepSpeechPrecision::bf16) {
      recurrent_bf16.resize(w.numel());
      audio::to_bfloat16(w.data_ptr<float>(), recurrent_bf16.data(), w.numel());
    } else if (precision == DeepSpeechPrecision::int8) {
      recurrent_int8.resize(w.numel());
      recurrent_scale.resize(w.size(0));
      audio::quantize_rows_int8(w.data_ptr<float>(), w.size(0), w.size(1), recurrent_int8.data(),
                                recurrent_scale.data());
    } else {
      recurrent = w;
    }
  }

  // g[r] += (recurrent weights h)[r] for the gate rows r in [row, row + rows).
  void add_recurrent(const float* h, float* g, int64_t row, int64_t rows) const {
    if (!recurrent_int8.empty())
      audio::matvec_accumulate(recurrent_int8.data() + row * hidden, recurrent_scale.data() + row,
                               h, g + row, rows, hidden);
    else if (!recurrent_bf16.empty())
      audio::matvec_accumulate(recurrent_bf16.data() + row * hidden, h, g + row, rows, hidden);
    else
      audio::matvec_accumulate(recurrent.data_ptr<float>() + row * hidden, h, g + row, rows,
                               hidden);
  }

  // The recurrence over one chunk of steps, for the hidden units `units`. `gates` holds the
  // chunk's input projections (len, 4H), gates i, j, f, o, and is overwritten; h for step
  // lo + k goes to row lo + k of `out` at `column`. `c` (H) and `h_prev` carry the state from
  // chunk to chunk; returns the chunk's last h. With a `barrier`, the other threads own the
  // other units, and all meet after every step, before the next one reads the whole h. Plain
  // loops, no LibTorch calls: the step is one pass over the weights plus a few thousand
  // scalars.
  const float* recur(float* gates, int64_t lo, int64_t len, bool reverse, float* out,
                     int64_t out_stride, int64_t column, float* c, const float* h_prev,
                     Units units, audio::SpinBarrier* barrier) const {
    const int64_t h_size = hidden;
    for (int64_t k = 0; k < len; ++k) {
      const int64_t local = reverse ? len - 1 - k : k;
      float* g = gates + local * 4 * h_size;
      if (units.begin == 0 && units.end == h_size) {
        add_recurrent(h_prev, g, 0, 4 * h_size);
      } else {  // unit u's rows in each gate: u, H + u, 2H + u, 3H + u
        for (int64_t gate = 0; gate < 4; ++gate)
          add_recurrent(h_prev, g, gate * h_size + units.begin, units.end - units.begin);
      }
      // c = sigmoid(f + 1) c + sigmoid(i) tanh(j); h = sigmoid(o) tanh(c)
      const float *i = g, *j = g + h_size, *f = g + 2 * h_size, *o = g + 3 * h_size;
      float* h = out + (lo + local) * out_stride + column;
      for (int64_t u = units.begin; u < units.end; ++u) {
        c[u] = c[u] * sigmoid(f[u] + static_cast<float>(kForgetBias)) +
               sigmoid(i[u]) * std::tanh(j[u]);
        h[u] = std::tanh(c[u]) * sigmoid(o[u]);
      }
      if (barrier) barrier->arrive_and_wait();
      h_prev = h;
    }
    return h_prev;
  }

  int64_t hidden;
  Dense input;
  at::Tensor recurrent;                  // fp32 [4H, H]: row r is gate unit r's weights over h
  std::vector<uint16_t> recurrent_bf16;  // the same in bfloat16, when asked for
  std::vector<int8_t> recurrent_int8;    // or in int8, each row times its recurrent_scale
  std::vector<float> recurrent_scale;
};

// Runs `here` on this thread and `there` on a second std::thread (not at::parallel_for: that
// one runs inline when called from inside another parallel region); rethrows a failure.
void run_on_two_threads(const std::function<void()>& here, const std::function<void()>& there) {
  std::exception_ptr failure;
  std::thread other([&] {
    try {
      there();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  here();
  other.join();
  if (failure) std::rethrow_exception(failure);
}

// The bidirectional layer on h3 (steps, input) into out (steps, 2H): the forward direction
// in columns [0, H), the backward one in [H, 2H). Both work chunk by chunk: a chunk's input
// projections (large products on every thread), then its recurrence.

// Calls stretch(forward_first, backward_first, n) over a chunk of `len` steps in stretches of
// kStepsBetweenChecks, with the first local step of each stretch in either walking order (the
// backward direction walks from the end), and stops between stretches at Ctrl-C. The state
// carries from stretch to stretch, so the result is exactly that of one pass.
template <typename Stretch>
void in_stretches(int64_t len, Stretch stretch) {
  for (int64_t done = 0; done < len; done += kStepsBetweenChecks) {
    throw_if_interrupted();
    const int64_t n = std::min(kStepsBetweenChecks, len - done);
    stretch(done, len - done - n, n);
  }
}

// Both directions at once, each on its own thread streaming its own weights (one core alone
// does not reach the memory bandwidth), or one after the other without `two_threads`. The
// backward direction takes its chunks from the end.
void directions_at_once(const Direction& fw, const Direction& bw, const at::Tensor& h3,
                        float* out, bool two_threads) {
  const int64_t steps = h3.size(0), hidden = fw.hidden;
  const std::vector<float> zero_h(hidden, 0.0f);
  std::vector<float> c_fw(hidden, 0.0f), c_bw(hidden, 0.0f);
  const float *h_fw = zero_h.data(), *h_bw = zero_h.data();
  for (int64_t done = 0; done < steps; done += kChunkSteps) {
    const int64_t len = std::min(kChunkSteps, steps - done);
    const int64_t lo_fw = done, lo_bw = steps - done - len;
    at::Tensor g_fw = fw.input(h3.slice(0, lo_fw, lo_fw + len)).contiguous();
    at::Tensor g_bw = bw.input(h3.slice(0, lo_bw, lo_bw + len)).contiguous();
    in_stretches(len, [&](int64_t first_fw, int64_t first_bw, int64_t n) {
      auto forward_part = [&] {
        h_fw = fw.recur(g_fw.data_ptr<float>() + first_fw * 4 * hidden, lo_fw + first_fw, n, false, out,
                        2 * hidden, 0, c_fw.data(), h_fw, {0, hidden}, nullptr);
      };
      auto backward_part = [&] {
        h_bw = bw.recur(g_bw.data_ptr<float>() + first_bw * 4 * hidden, lo_bw + first_bw, n, true, out,
                        2 * hidden, hidden, c_bw.data(), h_bw, {0, hidden}, nullptr);
      };
      if (two_threads) {
        run_on_two_threads(forward_part, backward_part);
      } else {
        forward_part();
        backward_part();
      }
    });
  }
}

// One direction after the other, each split over two threads by hidden units, so that each
// thread reads only half of a direction's recurrent weights at every step.
void directions_one_after_other(const Direction& fw, const Direction& bw, const at::Tensor& h3,
                                float* out) {
  const int64_t steps = h3.size(0), hidden = fw.hidden;
  const std::vector<float> zero_h(hidden, 0.0f);
  for (const bool reverse : {false, true}) {
    const Direction& cell = reverse ? bw : fw;
    std::vector<float> c(hidden, 0.0f);
    const float* h = zero_h.data();
    for (int64_t done = 0; done < steps; done += kChunkSteps) {
      const int64_t len = std::min(kChunkSteps, steps - done);
      const int64_t lo = reverse ? steps - done - len : done;
      at::Tensor g = cell.input(h3.slice(0, lo, lo + len)).contiguous();
      audio::SpinBarrier barrier(2);
      in_stretches(len, [&](int64_t first_fw, int64_t first_bw, int64_t n) {
        const int64_t first = reverse ? first_bw : first_fw;
        auto part = [&](Units units) {
          return cell.recur(g.data_ptr<float>() + first * 4 * hidden, lo + first, n, reverse, out,
                            2 * hidden, reverse ? hidden : 0, c.data(), h, units, &barrier);
        };
        const float* h_last = nullptr;
        run_on_two_threads([&] { h_last = part({0, hidden / 2}); },
                           [&] { part({hidden / 2, hidden}); });
        h = h_last;
      });
    }
  }
}

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
  Impl(const Weights& w, DeepSpeechPrecision precision)
      : dense1(w.h1, w.b1), dense2(w.h2, w.b2), dense3(w.h3, w.b3),
        forward_cell(w.fw_kernel, w.fw_bias, precision),
        backward_cell(w.bw_kernel, w.bw_bias, precision),
        dense5(w.h5, w.b5), dense6(w.h6, w.b6), inputs(w.h1.size(0)),
        split_directions(precision == DeepSpeechPrecision::int8) {}
  Dense dense1, dense2, dense3;
  Direction forward_cell, backward_cell;
  Dense dense5, dense6;
  int64_t inputs;
  // With two threads, one direction after the other, each split over both threads: half a
  // direction's int8 weights (8 MiB of DeepSpeech's 16) per thread stay in the L3 cache from
  // step to step, where two directions at once (32 MiB) are read from memory at every step.
  bool split_directions;
};

Network::Network(const Weights& weights, const std::string& source,
                 DeepSpeechPrecision precision) {
  check_shapes(weights, source);
  Weights w = weights;
  for (at::Tensor* t : {&w.h1, &w.b1, &w.h2, &w.b2, &w.h3, &w.b3, &w.fw_kernel, &w.fw_bias,
                        &w.bw_kernel, &w.bw_bias, &w.h5, &w.b5, &w.h6, &w.b6})
    *t = t->to(at::kFloat).contiguous();
  impl_ = std::make_unique<Impl>(w, precision);
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
  float* out = rnn.data_ptr<float>();
  if (at::get_num_threads() > 1 && n.split_directions)
    directions_one_after_other(n.forward_cell, n.backward_cell, h3, out);
  else
    directions_at_once(n.forward_cell, n.backward_cell, h3, out, at::get_num_threads() > 1);
  const at::Tensor kept = keep_every == 1 ? rnn : rnn.slice(0, 0, steps, keep_every);
  return n.dense6(clipped_relu(n.dense5(kept)));
}

}  // namespace dinet::deepspeech
