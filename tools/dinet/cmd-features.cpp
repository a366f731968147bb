// dinet features: the audio feature of one audio or video file, one row per 25-fps frame, as
// the published `<video>_deepspeech.txt` (numpy savetxt) or as .npy.
#include <chrono>
#include <cstdio>

#include "commands.h"
#include "dinet/audio_features.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/interrupt.h"
#include "dinet/runtime.h"

namespace dinet::cli {
namespace {

struct FeaturesOptions {
  std::string input;
  std::string type;
  std::string deepspeech_model;
  std::string deepspeech_precision = "fp32";
  std::string output;
  bool force = false;
  int threads = 0;
};

void run_features(const FeaturesOptions& options) {
  set_threads(options.threads);
  const std::filesystem::path output = options.output;
  if (output.extension() != ".txt" && output.extension() != ".npy")
    throw Error(options.output, "the output must end in .txt (numpy savetxt) or .npy");
  if (std::filesystem::exists(output) && !options.force)
    throw Error(options.output, "exists (use --force to overwrite it)");
  // Ctrl-C stops the DeepSpeech network between chunks of the audio; nothing is written.
  const InterruptScope interrupts("dinet features");
  remove_dead_temporaries(output.parent_path().empty() ? "." : output.parent_path());
  const auto start = std::chrono::steady_clock::now();
  const AudioFeatureExtractor extractor({options.type, options.deepspeech_model,
                                         deepspeech_precision(options.deepspeech_precision)});
  const at::Tensor features = extractor.compute(std::filesystem::path(options.input));
  throw_if_interrupted();
  write_feature_file(output, features);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %lld frames x %lld channels (%s, 25 per second) in %.2f s\n",
              options.output.c_str(), static_cast<long long>(features.size(0)),
              static_cast<long long>(features.size(1)), options.type.c_str(), seconds);
}

}  // namespace

void setup_features(CLI::App& app) {
  auto options = std::make_shared<FeaturesOptions>();
  auto* verb = app.add_subcommand(
      "features",
      "Compute the audio features of an audio or video file: one row per 25-fps video frame "
      "(10 s of audio -> 250 rows)");
  verb->add_option("input", options->input, "audio or video file (any format FFmpeg reads)")
      ->required();
  verb->add_option("--type", options->type,
                   "deepspeech: DeepSpeech v0.1.0 logits, 29 channels, the published feature "
                   "(needs --deepspeech_model); mel: built-in log-mel, 320 channels (80 bands x "
                   "4 hops of 10 ms), no model needed, any language")
      ->required()
      ->check(CLI::IsMember({"deepspeech", "mel"}));
  verb->add_option("--deepspeech_model", options->deepspeech_model,
                   "DeepSpeech v0.1.0 frozen graph (output_graph.pb from the published DINet "
                   "assets; not redistributable, so not included)");
  verb->add_option("--deepspeech_precision", options->deepspeech_precision,
                   "DeepSpeech LSTM weights: fp32 (default: the published features), bf16 "
                   "(half the LSTM's memory traffic, about a third less time; the features move by "
                   "about 3e-4 of their range) or int8 (a quarter of the "
                   "traffic, the weights stay in the cache: about 0.6 of bf16's time; the features "
                   "move by about 1.5e-3 of their range)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  verb->add_option("-o,--output", options->output,
                   "output file: .txt (numpy savetxt, as the published <video>_deepspeech.txt) "
                   "or .npy (float32); written atomically")
      ->required();
  verb->add_flag("--force", options->force, "overwrite the output file if it exists");
  add_threads_option(verb, options->threads);
  verb->callback([options] { run_features(*options); });
}

}  // namespace dinet::cli
