// DeepSpeech without TensorFlow: a synthetic frozen graph with v0.1.0's node names and random
// weights, written byte by byte in TensorFlow's wire format (not with our own proto classes,
// so a wrong field number would show), run through dinet::DeepSpeech and through a plain-loop
// reading of reference section 2.1 in double precision.
#include <ATen/ATen.h>

#include <cmath>
#include <fstream>

#include "dinet/audio_features.h"
#include "dinet/error.h"
#include "dinet/media.h"
#include "deepspeech_synthetic.h"
#include "test_support.h"

namespace {

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

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const dinet::Error& e) {
    return e.what();
  }
  return "(no error)";
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
