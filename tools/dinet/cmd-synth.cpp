// dinet synth: synthetic talking-face clips with exact landmarks, so data preparation,
// training and the tests run without downloaded data.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <thread>

#include "commands.h"
#include "dinet/error.h"
#include "dinet/interrupt.h"
#include "dinet/runtime.h"
#include "dinet/synth.h"

namespace dinet::cli {
namespace {

int run(SynthOptions o, const std::string& size, bool quiet) {
  std::smatch m;
  if (!std::regex_match(size, m, std::regex(R"((\d{1,5})x(\d{1,5}))")))
    throw Error("synth: --size " + size + ": expected WIDTHxHEIGHT, e.g. 512x512");
  o.width = std::stoi(m[1]);
  o.height = std::stoi(m[2]);
  o.show_progress = !quiet;
  o.cancel = &interrupt_flag();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Clips run in parallel; OpenCV threads inside each would only compete for the cores.
  set_threads(std::max(1, cores / std::clamp(o.threads > 0 ? o.threads : cores, 1, std::max(1, o.videos))));

  const InterruptScope interrupts("dinet synth");
  const SynthResult result = synthesize_clips(o);
  auto clips = [](size_t n) { return std::to_string(n) + (n == 1 ? " clip" : " clips"); };
  std::printf("synth: %s written, %s already complete (skipped)%s\n  videos:    %s\n  landmarks: %s\n",
              clips(result.written.size()).c_str(), clips(result.skipped.size()).c_str(),
              result.interrupted ? ", interrupted" : "", o.out_dir.string().c_str(),
              landmark_dir_for(o.out_dir).string().c_str());
  std::fflush(stdout);
  return result.interrupted ? 128 + interrupt_signal() : 0;
}

}  // namespace

void setup_synth(CLI::App& app) {
  auto o = std::make_shared<SynthOptions>();
  auto size = std::make_shared<std::string>("512x512");
  auto quiet = std::make_shared<bool>(false);
  auto* verb = app.add_subcommand(
      "synth",
      "Make synthetic talking-face clips: a drawn face whose lips follow a speech-like audio "
      "track (open vowels open the mouth, /i/ spreads it, /u/ rounds it, /m/ /p/ and pauses close "
      "it), as H.264 + AAC videos with their exact 68 landmarks as OpenFace CSVs, so data "
      "preparation, training and the tests run without downloaded data. Clips already complete "
      "are skipped.");
  verb->add_option("--out", o->out_dir,
                   "Folder for the videos (synth_000.mp4, ...); the landmark CSVs go to the sibling "
                   "folder <out>_landmark_openface. The published layout: "
                   "--out asserts/training_data/split_video_25fps")
      ->required();
  verb->add_option("--videos", o->videos, "Number of clips")->capture_default_str();
  verb->add_option("--seconds", o->seconds, "Length of each clip in seconds, at 25 fps")->capture_default_str();
  verb->add_option("--seed", o->seed, "Random seed: the same seed gives the same clips")->capture_default_str();
  verb->add_option("--size", *size, "Frame size WIDTHxHEIGHT in pixels, even, at least 64x64")
      ->capture_default_str();
  verb->add_option("--threads", o->threads,
                   "Clips made at once (default: every core, here " +
                       std::to_string(std::thread::hardware_concurrency()) + ")");
  verb->add_flag("--quiet", *quiet, "No progress bar");
  verb->callback([o, size, quiet] {
    const int code = run(*o, *size, *quiet);
    if (code != 0) std::exit(code);
  });
}

}  // namespace dinet::cli
