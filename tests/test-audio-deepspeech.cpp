// DeepSpeech without TensorFlow: a synthetic frozen graph with v0.1.0's node names and random
// weights, written byte by byte in TensorFlow's wire format (not with our own proto classes,
// so a wrong field number would show), run through dinet::DeepSpeech and through a plain-loop
// reading of reference section 2.1 in double precision.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <vector>

#include "audio/matvec.h"
#include "dinet/audio_features.h"
#include "dinet/error.h"
#include "dinet/media.h"
#include "deepspeech_synthetic.h"
#include "test_support.h"

namespace {

using dinet::test::error_of;

using dinet::test::kBw;
using dinet::test::kFw;
using dinet::test::random_weights;
using dinet::test::Weights;
using dinet::test::write_graph;

// Reference 2.1 read literally: concat(x, h) times the whole kernel, gates i, j, f, o.
at::Tensor reference_logits(const Weights& w, const at::Tensor& inputs) {
  auto d = [&](const std::string& name) { return w.at(name).to(at::kDouble); };
  auto clip = [](const at::Tensor& t) { return t.clamp(0, 20); };
  const at::Tensor x = inputs.to(at::kDouble);
  const at::Tensor l3 = clip(clip(clip(x.mm(d("h1")) + d("b1")).mm(d("h2")) + d("b2"))
                                 .mm(d("h3")) + d("b3"));
  const int64_t steps = x.size(0), cell = w.at(kFw + "bias").size(0) / 4;
  at::Tensor rnn = at::zeros({steps, 2 * cell}, at::kDouble);
  for (int dir = 0; dir < 2; ++dir) {
    const at::Tensor kernel = d((dir ? kBw : kFw) + "kernel");
    const at::Tensor bias = d((dir ? kBw : kFw) + "bias");
    std::vector<double> h(cell, 0.0), c(cell, 0.0);
    for (int64_t k = 0; k < steps; ++k) {
      const int64_t t = dir ? steps - 1 - k : k;
      std::vector<double> in(l3.size(1) + cell);
      for (int64_t q = 0; q < l3.size(1); ++q) in[q] = l3[t][q].item<double>();
      for (int64_t q = 0; q < cell; ++q) in[l3.size(1) + q] = h[q];
      const at::Tensor z =
          at::from_blob(in.data(), {1, int64_t(in.size())}, at::kDouble).mm(kernel)[0] + bias;
      const auto zs = z.accessor<double, 1>();
      auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
      for (int64_t q = 0; q < cell; ++q) {
        const double i = zs[q], j = zs[cell + q], f = zs[2 * cell + q], o = zs[3 * cell + q];
        c[q] = sigmoid(f + 1.0) * c[q] + sigmoid(i) * std::tanh(j);
        h[q] = sigmoid(o) * std::tanh(c[q]);
        rnn[t][dir * cell + q] = h[q];
      }
    }
  }
  return clip(rnn.mm(d("h5")) + d("b5")).mm(d("h6")) + d("b6");
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// `w` with each LSTM direction's recurrent weights (the kernel's rows from `inputs` on: the h
// part of [x, h]) replaced by `change` of them: what a reduced precision should amount to.
Weights with_recurrent_rows(const Weights& w, int64_t inputs,
                            const std::function<at::Tensor(const at::Tensor&)>& change) {
  Weights out = w;
  for (const std::string& scope : {kFw, kBw}) {
    at::Tensor kernel = w.at(scope + "kernel").clone();
    kernel.slice(0, inputs).copy_(change(kernel.slice(0, inputs)));
    out[scope + "kernel"] = kernel;
  }
  return out;
}

}  // namespace

TEST(DeepSpeechGraph, MatchesThePlainLoopReference) {
  dinet::test::TempDir dir;
  const Weights w = random_weights(23, 19, 26, 13, 17, 1);
  write_graph(dir / "output_graph.pb", w);
  const dinet::DeepSpeech model(dir / "output_graph.pb");
  EXPECT_EQ(model.describe(), "494 -> 23 -> 19 -> 26 -> BiLSTM 13 -> 17 -> 29");
  at::manual_seed(2);
  const at::Tensor inputs = at::randn({37, 494});
  const at::Tensor logits = model.logits(inputs);
  const at::Tensor expected = reference_logits(w, inputs);
  ASSERT_EQ(logits.sizes(), expected.sizes());
  EXPECT_GT(expected.abs().max().item<double>(), 1.0);  // not a degenerate network
  EXPECT_LT(max_abs_diff(logits, expected), 1e-4);
}

TEST(DeepSpeechGraph, LongInputsCrossChunkBoundaries) {
  dinet::test::TempDir dir;
  const Weights w = random_weights(16, 16, 16, 8, 16, 3);
  write_graph(dir / "g.pb", w);
  const dinet::DeepSpeech model(dir / "g.pb");
  at::manual_seed(4);
  const at::Tensor inputs = at::randn({2500, 494});  // more steps than one chunk (2048)
  EXPECT_LT(max_abs_diff(model.logits(inputs), reference_logits(w, inputs)), 1e-4);
}

TEST(DeepSpeechGraph, WholeChainOnRealSpeech) {
  DINET_REQUIRE_SHARED();
  dinet::test::TempDir dir;
  const Weights w = random_weights(23, 19, 26, 13, 17, 5);
  write_graph(dir / "output_graph.pb", w);
  const auto wav = dinet::test::shared_dir() / "data" / "real" / "sadtalker_RD_Radio31_000.wav";
  const dinet::Audio audio = dinet::load_audio(wav, 16000, dinet::AudioChannels::first);

  const dinet::AudioFeatureExtractor extractor({"deepspeech", dir / "output_graph.pb"});
  EXPECT_EQ(extractor.spec(), dinet::audio_feature_spec("deepspeech"));
  const at::Tensor features = extractor.compute(wav);  // 8 s
  ASSERT_EQ(features.sizes(), (std::vector<int64_t>{200, 29}));

  // Every second step of the logits of the published front end's input.
  const at::Tensor inputs =
      dinet::deepspeech_input_vectors(dinet::deepspeech_mfcc(dinet::deepspeech_pcm(audio)));
  ASSERT_EQ(inputs.size(0), 400);
  const at::Tensor expected = reference_logits(w, inputs).slice(0, 0, 400, 2);
  EXPECT_LT(max_abs_diff(features, expected), 1e-4);
}

TEST(DeepSpeechGraph, OldTensorFlowNamesAndScopesAreFound) {
  dinet::test::TempDir dir;
  Weights w = random_weights(8, 8, 8, 4, 8, 6);
  Weights renamed;
  for (auto& [name, t] : w) {
    std::string n = name;
    if (n.ends_with("/kernel")) n.replace(n.size() - 6, 6, "weights");
    if (n.ends_with("/bias")) n.replace(n.size() - 4, 4, "biases");
    renamed["deepspeech/" + n] = t;
  }
  write_graph(dir / "g.pb", renamed);
  const dinet::DeepSpeech model(dir / "g.pb");
  const at::Tensor inputs = at::randn({5, 494});
  EXPECT_LT(max_abs_diff(model.logits(inputs), reference_logits(w, inputs)), 1e-4);
}

TEST(DeepSpeechGraph, MismatchesFailNamingTheWeight) {
  dinet::test::TempDir dir;
  Weights w = random_weights(8, 8, 8, 4, 8, 7);
  w["h2"] = at::randn({9, 8});  // h1 gives 8 outputs
  write_graph(dir / "shape.pb", w);
  std::string msg = error_of([&] { dinet::DeepSpeech(dir / "shape.pb"); });
  EXPECT_NE(msg.find("shape.pb"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'h2' has shape [9, 8]"), std::string::npos) << msg;

  w = random_weights(8, 8, 8, 4, 8, 7);
  w.erase(kBw + "kernel");
  write_graph(dir / "missing.pb", w);
  msg = error_of([&] { dinet::DeepSpeech(dir / "missing.pb"); });
  EXPECT_NE(msg.find("bidirectional_rnn/bw/basic_lstm_cell/kernel"), std::string::npos) << msg;

  w = random_weights(8, 8, 8, 4, 8, 7);
  w["h6"] = at::randn({8, 30});
  w["b6"] = at::randn({30});
  write_graph(dir / "outputs.pb", w);
  msg = error_of([&] { dinet::DeepSpeech(dir / "outputs.pb"); });
  EXPECT_NE(msg.find("494 to 29"), std::string::npos) << msg;

  std::ofstream(dir / "text.pb") << "this is not a protocol buffer \xff\xff\xff";
  msg = error_of([&] { dinet::DeepSpeech(dir / "text.pb"); });
  EXPECT_NE(msg.find("not a TensorFlow GraphDef"), std::string::npos) << msg;

  msg = error_of([&] { dinet::DeepSpeech(dir / "absent.pb"); });
  EXPECT_NE(msg.find("absent.pb: no such DeepSpeech graph"), std::string::npos) << msg;
}

TEST(DeepSpeechGraph, MissingModelExplainsTheChoice) {
  const std::string msg = error_of([] { dinet::AudioFeatureExtractor({"deepspeech", {}}); });
  EXPECT_NE(msg.find("not redistributable"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mel"), std::string::npos) << msg;
}

// ---- bfloat16 recurrent weights (--deepspeech_precision bf16) -----------------------------

TEST(DeepSpeechBf16, RoundsToNearestEven) {
  using dinet::audio::from_bfloat16;
  using dinet::audio::to_bfloat16;
  auto bits = [](uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  };
  EXPECT_EQ(to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(to_bfloat16(bits(0x3f808000)), 0x3f80);  // tie, even below
  EXPECT_EQ(to_bfloat16(bits(0x3f818000)), 0x3f82);  // tie, even above
  EXPECT_EQ(to_bfloat16(bits(0x3f808001)), 0x3f81);  // above the tie
  EXPECT_EQ(to_bfloat16(-2.5f), 0xc020);
  EXPECT_TRUE(std::isnan(from_bfloat16(to_bfloat16(std::nanf("")))));
  EXPECT_EQ(to_bfloat16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to infinity
  // The same rounding as LibTorch's bfloat16.
  at::manual_seed(9);
  const at::Tensor v = at::randn({4096}) * 100;
  const at::Tensor theirs = v.to(at::kBFloat16).to(at::kFloat);
  for (int64_t k = 0; k < v.numel(); ++k)
    ASSERT_EQ(from_bfloat16(to_bfloat16(v[k].item<float>())), theirs[k].item<float>()) << k;
}

// The bf16 product equals the float product of the rounded weights up to float32 summation
// (relative 1e-5 of sum |w x|), and the float product of the unrounded weights within the
// rounding of the weights (2^-9 relative each, so 2^-8 of sum |w x| with room).
TEST(DeepSpeechBf16, MatvecMatchesFloatWithinTheRounding) {
  for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{8192, 2048}, {52, 13}, {7, 37},
                                   {3, 5}}) {
    at::manual_seed(rows + cols);
    const at::Tensor w = at::randn({rows, cols});
    const at::Tensor x = at::randn({cols});
    const at::Tensor y0 = at::randn({rows});
    std::vector<uint16_t> w16(rows * cols);
    dinet::audio::to_bfloat16(w.data_ptr<float>(), w16.data(), w.numel());
    at::Tensor y_bf16 = y0.clone(), y_fp32 = y0.clone();
    dinet::audio::matvec_accumulate(w16.data(), x.data_ptr<float>(), y_bf16.data_ptr<float>(),
                                    rows, cols);
    dinet::audio::matvec_accumulate(w.data_ptr<float>(), x.data_ptr<float>(),
                                    y_fp32.data_ptr<float>(), rows, cols);
    const at::Tensor rounded = w.to(at::kBFloat16).to(at::kDouble);
    const at::Tensor xd = x.to(at::kDouble);
    const at::Tensor scale = (w.to(at::kDouble).abs().mv(xd.abs())) + y0.to(at::kDouble).abs();
    const at::Tensor exact_rounded = y0.to(at::kDouble) + rounded.mv(xd);
    const at::Tensor exact = y0.to(at::kDouble) + w.to(at::kDouble).mv(xd);
    EXPECT_LT(((y_bf16.to(at::kDouble) - exact_rounded).abs() / scale).max().item<double>(), 1e-5)
        << rows << " x " << cols;
    EXPECT_LT(((y_fp32.to(at::kDouble) - exact).abs() / scale).max().item<double>(), 1e-5)
        << rows << " x " << cols;
    EXPECT_LT(((y_bf16.to(at::kDouble) - exact).abs() / scale).max().item<double>(), 1.0 / 256)
        << rows << " x " << cols;
  }
}

// In bf16 the network is the plain-loop reference with the LSTM's recurrent weights (the h
// rows of each kernel) rounded to bfloat16, and nothing else changed.
TEST(DeepSpeechBf16, NetworkIsTheReferenceWithRoundedRecurrentWeights) {
  dinet::test::TempDir dir;
  const Weights w = random_weights(23, 19, 26, 13, 17, 1);
  write_graph(dir / "output_graph.pb", w);
  const dinet::DeepSpeech model(dir / "output_graph.pb", dinet::DeepSpeechPrecision::bf16);
  const Weights rounded =
      with_recurrent_rows(w, 26, [](const at::Tensor& h) { return h.to(at::kBFloat16).to(at::kFloat); });
  at::manual_seed(2);
  const at::Tensor inputs = at::randn({37, 494});
  const at::Tensor logits = model.logits(inputs);
  EXPECT_LT(max_abs_diff(logits, reference_logits(rounded, inputs)), 1e-4);
  EXPECT_GT(max_abs_diff(logits, reference_logits(w, inputs)), 1e-6);  // it did round
}

// The deviation of bf16 from fp32 features on real speech with a wider LSTM (256 units; the
// published 2048 is measured by dinet-bench audio, see docs/audio-features.md).
TEST(DeepSpeechBf16, FeaturesOnRealSpeechStayCloseToFp32) {
  DINET_REQUIRE_SHARED();
  dinet::test::TempDir dir;
  const Weights w = random_weights(128, 128, 256, 256, 128, 5);
  write_graph(dir / "output_graph.pb", w);
  const auto wav = dinet::test::shared_dir() / "data" / "real" / "sadtalker_RD_Radio31_000.wav";
  const at::Tensor fp32 =
      dinet::AudioFeatureExtractor({"deepspeech", dir / "output_graph.pb"}).compute(wav);
  const at::Tensor bf16 = dinet::AudioFeatureExtractor({"deepspeech", dir / "output_graph.pb",
                                                        dinet::DeepSpeechPrecision::bf16})
                              .compute(wav);
  ASSERT_EQ(bf16.sizes(), fp32.sizes());
  const double scale = fp32.abs().max().item<double>();
  const double deviation = max_abs_diff(bf16, fp32);
  std::printf("bf16 - fp32 features: max abs %.3g, relative to the largest feature %.3g\n",
              deviation, deviation / scale);
  EXPECT_GT(scale, 1.0);
  EXPECT_GT(deviation, 0.0);
  EXPECT_LT(deviation / scale, 2e-3);  // 1.4e-4 measured
}

TEST(DeepSpeechBf16, PrecisionNames) {
  EXPECT_EQ(dinet::deepspeech_precision("fp32"), dinet::DeepSpeechPrecision::fp32);
  EXPECT_EQ(dinet::deepspeech_precision("bf16"), dinet::DeepSpeechPrecision::bf16);
  EXPECT_EQ(dinet::deepspeech_precision("int8"), dinet::DeepSpeechPrecision::int8);
  EXPECT_STREQ(dinet::to_string(dinet::DeepSpeechPrecision::bf16), "bf16");
  EXPECT_STREQ(dinet::to_string(dinet::DeepSpeechPrecision::int8), "int8");
  const std::string msg = error_of([] { dinet::deepspeech_precision("fp16"); });
  EXPECT_NE(msg.find("fp32"), std::string::npos) << msg;
}

// ---- int8 recurrent weights (--deepspeech_precision int8) ---------------------------------

// Per row: scale = max |w| / 127, the largest weight becomes +-127, every weight is within
// half a step of scale * q; an all-zero row has scale 0.
TEST(DeepSpeechInt8, QuantizesEachRowSymmetrically) {
  at::manual_seed(11);
  at::Tensor w = at::randn({5, 37}) * at::arange(1, 6).unsqueeze(1);
  w[3].zero_();
  std::vector<int8_t> q(w.numel());
  std::vector<float> scale(5);
  dinet::audio::quantize_rows_int8(w.data_ptr<float>(), 5, 37, q.data(), scale.data());
  for (int64_t r = 0; r < 5; ++r) {
    const at::Tensor row = w[r];
    EXPECT_FLOAT_EQ(scale[r], row.abs().max().item<float>() / 127) << r;
    int largest = 0;
    for (int64_t c = 0; c < 37; ++c) {
      largest = std::max(largest, std::abs(int(q[r * 37 + c])));
      EXPECT_LE(std::abs(row[c].item<float>() - scale[r] * q[r * 37 + c]), scale[r] / 2 * 1.0001)
          << r << ", " << c;
    }
    EXPECT_EQ(largest, r == 3 ? 0 : 127) << r;
  }
}

// The int8 kernel (AVX-512, AVX2 or portable, with column and row remainders) equals a plain
// double loop over scale[r] * q * x up to float32 summation: relative 1e-5 of sum |w x|.
TEST(DeepSpeechInt8, MatvecMatchesAPlainLoop) {
  for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{8192, 2048}, {52, 13}, {7, 37},
                                   {3, 5}, {6, 16}}) {
    at::manual_seed(rows * cols);
    const at::Tensor w = at::randn({rows, cols});
    const at::Tensor x = at::randn({cols});
    const at::Tensor y0 = at::randn({rows});
    std::vector<int8_t> q(rows * cols);
    std::vector<float> scale(rows);
    dinet::audio::quantize_rows_int8(w.data_ptr<float>(), rows, cols, q.data(), scale.data());
    at::Tensor y = y0.clone();
    dinet::audio::matvec_accumulate(q.data(), scale.data(), x.data_ptr<float>(),
                                    y.data_ptr<float>(), rows, cols);
    const float* xs = x.data_ptr<float>();
    double worst = 0;
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0, magnitude = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double term = double(scale[r]) * q[r * cols + c] * xs[c];
        sum += term;
        magnitude += std::abs(term);
      }
      const double expected = y0[r].item<double>() + sum;
      magnitude += std::abs(y0[r].item<double>());
      worst = std::max(worst, std::abs(y[r].item<double>() - expected) / magnitude);
    }
    EXPECT_LT(worst, 1e-5) << rows << " x " << cols;
  }
}

// In int8 the network is the plain-loop reference with the LSTM's recurrent weights replaced
// by their dequantized int8 values, and nothing else changed, whether the recurrence runs on
// two threads (one direction after the other, each split by hidden units; odd widths; more
// steps than one chunk) or on one.
TEST(DeepSpeechInt8, NetworkIsTheReferenceWithQuantizedRecurrentWeights) {
  dinet::test::TempDir dir;
  const Weights w = random_weights(23, 19, 26, 13, 17, 1);
  write_graph(dir / "output_graph.pb", w);
  const dinet::DeepSpeech model(dir / "output_graph.pb", dinet::DeepSpeechPrecision::int8);
  const Weights quantized = with_recurrent_rows(w, 26, [](const at::Tensor& h) {
    const at::Tensor recurrent = h.t().contiguous();  // [4H, H]: quantized per row
    std::vector<int8_t> q(recurrent.numel());
    std::vector<float> scale(recurrent.size(0));
    dinet::audio::quantize_rows_int8(recurrent.data_ptr<float>(), recurrent.size(0),
                                     recurrent.size(1), q.data(), scale.data());
    const at::Tensor values =
        at::from_blob(q.data(), recurrent.sizes(), at::kChar).to(at::kFloat) *
        at::from_blob(scale.data(), {recurrent.size(0), 1}, at::kFloat);
    return values.t();
  });
  at::manual_seed(2);
  const at::Tensor inputs = at::randn({2100, 494});  // more steps than one chunk (2048)
  const at::Tensor expected = reference_logits(quantized, inputs);
  const int threads = at::get_num_threads();
  for (const int t : {2, 1}) {
    at::set_num_threads(t);
    EXPECT_LT(max_abs_diff(model.logits(inputs), expected), 1e-4) << t << " threads";
  }
  at::set_num_threads(threads);
  EXPECT_GT(max_abs_diff(model.logits(inputs.slice(0, 0, 37)),
                         reference_logits(w, inputs.slice(0, 0, 37))),
            1e-6);  // it did quantize
}

// int8 against fp32 logits on a short random input with a wider LSTM (256 units): the
// deviation stays under 0.5% of the largest logit (printed; the published 2048 units
// are measured by dinet-bench audio, see docs/audio-features.md).
TEST(DeepSpeechInt8, LogitsStayCloseToFp32) {
  dinet::test::TempDir dir;
  const Weights w = random_weights(128, 128, 256, 256, 128, 5);
  write_graph(dir / "output_graph.pb", w);
  const dinet::DeepSpeech fp32(dir / "output_graph.pb");
  const dinet::DeepSpeech int8(dir / "output_graph.pb", dinet::DeepSpeechPrecision::int8);
  at::manual_seed(3);
  const at::Tensor inputs = at::randn({200, 494});
  const at::Tensor reference = fp32.logits(inputs);
  const double scale = reference.abs().max().item<double>();
  const double deviation = max_abs_diff(int8.logits(inputs), reference);
  std::printf("int8 - fp32 logits: max abs %.3g, relative to the largest logit %.3g\n",
              deviation, deviation / scale);
  EXPECT_GT(scale, 1.0);
  EXPECT_GT(deviation, 0.0);
  EXPECT_LT(deviation / scale, 5e-3);  // 6.6e-4 measured
}
