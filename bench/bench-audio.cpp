// dinet-bench audio: seconds to compute each audio feature for a minute of speech. DeepSpeech
// runs with random weights of the v0.1.0 sizes (494 -> 2048 -> 2048 -> 4096 -> BiLSTM 2048 ->
// 2048 -> 29), since the real graph is not redistributable: the cost depends only on the sizes.
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "audio/deepspeech_network.h"
#include "bench.h"
#include "dinet/audio_features.h"
#include "dinet/media.h"
#include "dinet/runtime.h"

namespace dinet::bench {
namespace {

struct AudioBenchOptions {
  std::string input = "../shared/data/real/sadtalker_RD_Radio31_000.wav";
  double seconds = 60;
  int hidden = 2048;  // v0.1.0's n_hidden
  int threads = 0;
  int repeats = 3;
};

// The input file repeated to the wanted length (real speech, so the spectra are realistic).
Audio speech(const AudioBenchOptions& options) {
  const Audio clip = load_audio(options.input, 16000);
  Audio audio;
  const auto n = static_cast<size_t>(options.seconds * 16000);
  while (audio.samples.size() < n)
    audio.samples.insert(audio.samples.end(), clip.samples.begin(), clip.samples.end());
  audio.samples.resize(n);
  return audio;
}

deepspeech::Weights random_weights(int64_t h) {
  auto dense = [](int64_t in, int64_t out) {
    return at::randn({in, out}) / std::sqrt(static_cast<double>(in));
  };
  deepspeech::Weights w;
  w.h1 = dense(494, h), w.b1 = at::randn({h}) * 0.1;
  w.h2 = dense(h, h), w.b2 = at::randn({h}) * 0.1;
  w.h3 = dense(h, 2 * h), w.b3 = at::randn({2 * h}) * 0.1;
  w.fw_kernel = dense(3 * h, 4 * h) * 0.5, w.fw_bias = at::randn({4 * h}) * 0.1;
  w.bw_kernel = dense(3 * h, 4 * h) * 0.5, w.bw_bias = at::randn({4 * h}) * 0.1;
  w.h5 = dense(2 * h, h), w.b5 = at::randn({h}) * 0.1;
  w.h6 = dense(h, 29), w.b6 = at::randn({29}) * 0.1;
  return w;
}

void run_audio_bench(const AudioBenchOptions& options) {
  const int threads = set_threads(options.threads);
  const Audio audio = speech(options);
  std::printf("Audio features for %.0f s of speech (%s, repeated), median of %d runs; "
              "DeepSpeech with random weights, n_hidden %d.\n\n",
              options.seconds, options.input.c_str(), options.repeats, options.hidden);
  const Table table({"step", "audio s", "threads", "rows", "wall s", "CPU s", "x real time"}, "lrrrrrr");
  const auto print_row = [&](const std::string& step, int64_t rows, const Timing& t) {
    table.row({step, cell("%.0f", options.seconds), cell("%d", threads), cell("%lld", static_cast<long long>(rows)),
               cell("%.3f", t.wall), cell("%.3f", t.cpu), cell("%.1fx", options.seconds / t.wall)});
  };

  int64_t rows = 0;
  std::vector<std::string> deviations;
  Timing t = median_timing(options.repeats, [&] { rows = mel_features(audio).size(0); });
  print_row("mel (320 channels)", rows, t);

  at::Tensor inputs;
  t = median_timing(options.repeats, [&] {
    inputs = deepspeech_input_vectors(deepspeech_mfcc(deepspeech_pcm(audio)));
  });
  print_row("DeepSpeech front end (MFCC, 494 inputs)", inputs.size(0), t);

  // Each precision of the recurrent weights (--deepspeech_precision), on the same weights.
  const deepspeech::Weights weights = random_weights(options.hidden);
  at::Tensor reference;
  for (const DeepSpeechPrecision precision :
       {DeepSpeechPrecision::fp32, DeepSpeechPrecision::bf16, DeepSpeechPrecision::int8}) {
    const deepspeech::Network network(weights, "random weights", precision);
    at::Tensor logits;
    t = median_timing(options.repeats, [&] { logits = network.forward(inputs, 2); });
    const std::string step = std::string("DeepSpeech network, ") + to_string(precision);
    print_row(step, logits.size(0), t);
    if (!reference.defined()) reference = logits;
    else deviations.push_back(step + ": max |logit - fp32 logit| " +
                              std::to_string((logits - reference).abs().max().item<double>()) +
                              " (fp32 logits up to " +
                              std::to_string(reference.abs().max().item<double>()) + ")");
  }
  std::printf("\n");
  for (const std::string& line : deviations) std::printf("%s\n", line.c_str());
}

std::function<void()> setup_audio_bench(CLI::App& app) {
  auto options = std::make_shared<AudioBenchOptions>();
  app.add_option("--input", options->input,
                 "speech to repeat (default: ../shared/data/real/sadtalker_RD_Radio31_000.wav)");
  app.add_option("--seconds", options->seconds, "audio length in seconds (default: 60)");
  app.add_option("--hidden", options->hidden, "DeepSpeech n_hidden (default: 2048, v0.1.0)");
  app.add_option("--threads", options->threads, "CPU threads (default: every core)");
  app.add_option("-r,--repeats", options->repeats, "timed runs per row (default: 3)");
  return [options] { run_audio_bench(*options); };
}

}  // namespace

DINET_BENCH("audio", "seconds per minute of audio: log-mel, DeepSpeech front end and network",
            setup_audio_bench);

}  // namespace dinet::bench
