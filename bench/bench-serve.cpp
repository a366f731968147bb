// dinet-bench serve: one live session (dinet/live.h) fed in real time from a WAV file, in
// 20 ms pieces as a microphone would send them, at each mouth size and precision: the frames
// per second it generates while the output keeps 25, the latency from a sample's arrival to
// the emission of its frame (p50, p95), and the frames it had to hold.
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "bench.h"
#include "dinet/audio_features.h"
#include "dinet/checkpoint.h"
#include "dinet/live.h"
#include "dinet/networks.h"
#include "dinet/runtime.h"
#include "dinet/synth.h"
#include "dinet/torch_file.h"

namespace dinet::bench {
namespace {
namespace fs = std::filesystem;

struct ServeBenchOptions {
  std::string model_path;  // empty: random weights of the right size per mouth
  std::string wav = "../shared/data/real/genefacepp_MacronSpeech.wav";
  std::string avatar_video;  // empty: a synthetic clip with its exact landmarks
  std::vector<int> mouths = {64, 128};
  std::vector<std::string> precisions = {"bf16", "int8"};
  double seconds = 20;
  int threads = 2;
  int batch = 2;
};

void run_serve_bench(const ServeBenchOptions& o) {
  const int threads = set_threads(o.threads);
  const ScratchDir scratch(fs::temp_directory_path() / ("dinet-bench-serve-" + std::to_string(::getpid())));
  AvatarOptions avatar_options;
  fs::path video = o.avatar_video;
  if (video.empty()) {
    SynthOptions synth;
    synth.out_dir = scratch.path / "clips";
    synth.seconds = 8;
    synth.width = synth.height = 512;
    synth.threads = 1;
    synth.show_progress = false;
    synthesize_clips(synth);
    video = synth.out_dir / (synth_clip_name(0) + ".mp4");
    avatar_options.landmark_csv = landmark_dir_for(synth.out_dir) / (synth_clip_name(0) + ".csv");
  }
  prepare_avatar(video, scratch.path / "avatar", avatar_options);
  const Avatar avatar = load_avatar(scratch.path / "avatar");
  Audio speech = load_audio(o.wav, 16000);
  std::vector<int16_t> pcm;
  const size_t wanted = static_cast<size_t>(o.seconds * 16000);
  for (size_t i = 0; i < wanted && !speech.samples.empty(); ++i)
    pcm.push_back(static_cast<int16_t>(std::clamp(speech.samples[i % speech.samples.size()], -1.0f, 0.99997f) * 32768));

  std::printf("One live session fed in real time (20 ms pieces) for %.0f s from %s; avatar %s (%dx%d, %lld frames, "
              "loop %s); %d threads; generator batch %d; model: %s.\n\n",
              o.seconds, fs::path(o.wav).filename().c_str(), video.filename().c_str(), avatar.width, avatar.height,
              static_cast<long long>(avatar.frames()), avatar.loop.kind.c_str(), threads, o.batch,
              o.model_path.empty() ? "random weights of the right size (speed only)" : o.model_path.c_str());
  const Table table({"mouth", "precision", "output frames/s", "generated frames/s", "ms/generated frame", "held (late)",
                     "held (half rate)", "underruns", "latency p50 ms", "latency p95 ms", "look-ahead ms",
                     "p95 beyond look-ahead ms", "mode at end"},
                    "rlrrrrrrrrrrl");
  for (int mouth : o.mouths) {
    const fs::path model_file = o.model_path.empty() ? random_mel_model(scratch.path, mouth) : fs::path(o.model_path);
    for (const std::string& precision : o.precisions) {
      LiveModelOptions model_options;
      model_options.model_path = model_file;
      model_options.precision = parse_precision(precision);
      model_options.mouth_region_size = o.model_path.empty() ? mouth : 0;
      const LiveModel model(model_options);
      LiveSessionOptions options;
      options.batch_size = o.batch;
      int64_t generated_frames = 0;
      LiveSession session(model, avatar, [&](const LiveFrame& f) { generated_frames += f.generated; }, options);
      const auto start = std::chrono::steady_clock::now();
      for (size_t at = 0; at < pcm.size(); at += 320) {
        session.push_audio(std::span<const int16_t>(pcm.data() + at, std::min<size_t>(320, pcm.size() - at)));
        std::this_thread::sleep_until(start + std::chrono::milliseconds(20 * (at / 320 + 1)));
      }
      session.finish();
      session.wait();
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const LiveStats s = session.stats();
      table.row({cell("%d", model.mouth_region_size()), precision, cell("%.1f", s.frames / wall),
                 cell("%.1f", generated_frames / wall), cell("%.1f", s.generate_ms_per_frame),
                 cell("%lld", static_cast<long long>(s.dropped)), cell("%lld", static_cast<long long>(s.skipped)),
                 cell("%lld", static_cast<long long>(s.underruns)), cell("%.0f", s.latency_p50_ms),
                 cell("%.0f", s.latency_p95_ms), cell("%.1f", s.lookahead_ms),
                 cell("%.0f", s.latency_p95_ms - s.lookahead_ms), s.mode});
    }
    if (!o.model_path.empty()) break;  // the checkpoint has one mouth size
  }
}

std::function<void()> setup_serve_bench(CLI::App& app) {
  auto options = std::make_shared<ServeBenchOptions>();
  app.add_option("--model_path", options->model_path,
                 "generator checkpoint trained on mel (default: random weights at each --mouth)");
  app.add_option("--wav", options->wav, "the speech fed to the session (looped to --seconds)")->capture_default_str();
  app.add_option("--avatar_video", options->avatar_video, "the avatar (default: a synthetic 512x512 clip)");
  app.add_option("--mouth", options->mouths, "mouth sizes (default: 64 128)");
  app.add_option("--precision", options->precisions, "precisions (default: bf16 int8)");
  app.add_option("--seconds", options->seconds, "seconds of speech per run")->capture_default_str();
  app.add_option("--threads", options->threads, "LibTorch threads")->capture_default_str();
  app.add_option("--batch", options->batch, "frames per generator call")->capture_default_str();
  return [options] { run_serve_bench(*options); };
}

}  // namespace

DINET_BENCH("serve", "one live session fed in real time: frames/s, latency p50/p95, held frames", setup_serve_bench);

}  // namespace dinet::bench
