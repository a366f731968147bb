// dinet-bench infer: frames/s of `dinet infer` on a real clip, end to end (decode, crop,
// network, paste, H.264 + AAC encode), against the published computation measured in the
// same run: one frame at a time, float32, every branch of the generator recomputed per
// frame, both with our LibTorch network and (when python3 has torch) with
// bench/published_inference.py. Random weights: speed does not depend on them.
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>

#include "bench.h"
#include "dinet/audio_features.h"
#include "dinet/checkpoint.h"
#include "dinet/crop.h"
#include "dinet/face.h"
#include "dinet/infer.h"
#include "dinet/landmarks.h"
#include "dinet/media.h"
#include "dinet/networks.h"
#include "dinet/runtime.h"
#include "dinet/torch_file.h"
#include "infer/generator.h"

namespace dinet::bench {
namespace fs = std::filesystem;

fs::path random_mel_model(const fs::path& dir, int mouth) {
  torch::manual_seed(0);
  DINet net(3, 15, kMelChannels);
  TorchValue checkpoint = published_generator_checkpoint(1, {{"net_g", module_state_dict(*net)}});
  TorchValue meta = TorchValue::dict();
  meta.set("trainer", "frame");
  meta.set("mouth_region_size", mouth);
  meta.set("audio_feature", "mel");
  meta.set("audio_channel", kMelChannels);
  checkpoint.set("dinet_meta", meta);
  const fs::path file = dir / ("random_mel_" + std::to_string(mouth) + ".pth");
  save_torch_file(file, checkpoint);
  return file;
}

namespace {

struct InferBenchOptions {
  std::string video = "../shared/data/real/videoretalking_face_2.mp4";
  double seconds = 4;  // of the clip's own audio: the length of the result
  int mouth = 256;
  std::vector<int> batches = {4};
  std::vector<std::string> precisions = {"fp32", "bf16"};
  int baseline_frames = 3;  // also the frames of the network-only rows
  std::string python = "/usr/bin/python3";  // "none": skip the PyTorch baseline
  // Beside the build folder's parent, where a checkout keeps it.
  std::string script =
      (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "bench" / "published_inference.py").string();
  int threads = 0;
  std::string device = "cpu";
  std::string landmarks;  // an OpenFace CSV of the video: skips the detection
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Wall time and the CPU time of every thread of the process: on a shared machine the CPU
// time per frame is the steadier figure.
struct Timer {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
  double wall_s() const { return seconds_since(wall); }
  double cpu_s() const { return double(std::clock() - cpu) / CLOCKS_PER_SEC; }
};

void print_row(const Table& table, const std::string& what, const std::string& precision, int batch, int64_t frames,
               double seconds, double cpu_seconds) {
  table.row({what, precision, cell("%d", batch), cell("%lld", static_cast<long long>(frames)), cell("%.1f", seconds),
             cell("%.3f", frames / seconds), cell("%.2f", cpu_seconds / frames)});
}

void print_not_run(const Table& table, const std::string& what, const std::string& precision, int batch,
                   const std::string& why) {
  table.row({what, precision, cell("%d", batch), "-", "-", "-", "not run: " + why});
}

// The published inference loop with our network: per frame, forward() with the references,
// which recomputes the reference branch every time, batch 1, float32.
void baseline_cpp(const Table& table, const InferBenchOptions& o) {
  torch::NoGradGuard no_grad;
  const FaceSize size = face_size(o.mouth);
  const torch::Device device(o.device);
  DINet net(3, 15, kDeepSpeechChannels);
  net->eval();
  net->to(device);
  const at::Tensor source = torch::rand({1, 3, size.height, size.width}, device);
  const at::Tensor refs = torch::rand({1, 15, size.height, size.width}, device);
  const at::Tensor audio = torch::randn({1, kDeepSpeechChannels, 5}, device);
  net->forward(source, refs, audio).cpu();  // warm-up
  const Timer timer;
  // Each frame back on the CPU, as inference.py does before writing it.
  for (int k = 0; k < o.baseline_frames; ++k) net->forward(source, refs, audio).mul(255).cpu();
  print_row(table, "published computation, our LibTorch network (network only)", "fp32", 1, o.baseline_frames,
            timer.wall_s(), timer.cpu_s());
}

void baseline_python(const Table& table, const InferBenchOptions& o, int threads) {
  if (o.python == "none") return;
  const std::string cmd = o.python + " " + o.script + " --mouth " + std::to_string(o.mouth) +
                          " --frames " + std::to_string(o.baseline_frames) + " --threads " +
                          std::to_string(threads) + " --device " + o.device;
  const std::optional<nlohmann::json> json = run_json_command(cmd);
  if (!json) {
    print_not_run(table, "published inference.py loop, PyTorch (network only)", "fp32", 1, "`" + cmd + "` failed");
    return;
  }
  print_row(table, "published inference.py loop, PyTorch " + json->at("torch").get<std::string>() + " (network only)",
            "fp32", 1, o.baseline_frames, json->at("seconds").get<double>(), json->at("cpu_seconds").get<double>());
}

// Our generator alone: references encoded once, `batch` frames per call.
void network_only(const Table& table, const InferBenchOptions& o, const std::string& precision, int batch) {
  const FaceSize size = face_size(o.mouth);
  DINet net(3, 15, kDeepSpeechChannels);
  infer::Generator generator(net, o.device, parse_precision(precision));
  generator.set_reference(torch::rand({1, 15, size.height, size.width}));
  const at::Tensor source = torch::rand({batch, 3, size.height, size.width});
  const at::Tensor audio = torch::randn({batch, kDeepSpeechChannels, 5});
  // Warm-up: oneDNN picks its kernels in the first calls (with int8 the first one calibrates).
  for (int k = 0; k < 2; ++k) generator.forward(source, audio);
  const int calls = std::max(1, (o.baseline_frames + batch - 1) / batch);
  const Timer timer;
  for (int k = 0; k < calls; ++k) generator.forward(source, audio);
  print_row(table, "our generator, references once per video (network only)", precision, batch, calls * batch,
            timer.wall_s(), timer.cpu_s());
}


void run_infer_bench(const InferBenchOptions& o) {
  const int threads = set_threads(o.threads);
  const ScratchDir scratch(fs::temp_directory_path() / ("dinet-bench-infer-" + std::to_string(::getpid())));
  const fs::path& dir = scratch.path;
  Audio audio = load_audio(o.video, 48000);
  audio.samples.resize(std::min(audio.samples.size(), static_cast<size_t>(o.seconds * audio.sample_rate)));
  write_wav(dir / "drive.wav", audio);

  const auto detect_start = std::chrono::steady_clock::now();
  const LandmarkTrack track =
      o.landmarks.empty() ? detect_video_landmarks(o.video, LandmarkModel()).track : read_openface_csv(o.landmarks);
  const double detect_seconds = seconds_since(detect_start);
  write_openface_csv(dir / "landmarks.csv", track);
  const fs::path model = random_mel_model(dir, o.mouth);

  std::printf("`dinet infer` on %s (%zu source frames), %.1f s of its audio, mouth %d, network on %s, %d CPU "
              "threads. Landmarks %s beforehand in %.1f s (%.1f frames/s) and given as a CSV.\n\n",
              o.video.c_str(), track.size(), audio.duration_s(), o.mouth, o.device.c_str(), threads,
              o.landmarks.empty() ? "detected" : "read", detect_seconds, track.size() / detect_seconds);
  const Table table({"computation", "precision", "batch", "frames", "seconds", "frames/s", "CPU s/frame"},
                    "llrrrrr");
  baseline_cpp(table, o);
  baseline_python(table, o, threads);
  for (const std::string& precision : o.precisions) {
    for (int batch : o.batches) {
      try {
        network_only(table, o, precision, batch);
      } catch (const std::exception& e) {
        print_not_run(table, "our generator", precision, batch, e.what());
      }
      InferOptions options;
      options.model_path = model;
      options.precision = parse_precision(precision);
      options.device = o.device;
      options.batch_size = batch;
      options.threads = threads;
      options.show_progress = false;
      try {
        Dubber dubber(options);
        DubJob job{o.video, dir / "drive.wav", dir / "landmarks.csv", dir / "out.mp4", ""};
        const Timer timer;
        const DubResult result = dubber.dub(job);
        print_row(table, "`dinet infer` end to end (features, references, decode, network, paste, encode)", precision,
                  batch, result.frames, result.seconds, timer.cpu_s());
      } catch (const std::exception& e) {
        print_not_run(table, "`dinet infer` end to end", precision, batch, e.what());
      }
    }
  }
}

std::function<void()> setup_infer_bench(CLI::App& app) {
  auto o = std::make_shared<InferBenchOptions>();
  app.add_option("--video", o->video, "source clip (default: ../shared/data/real/videoretalking_face_2.mp4)");
  app.add_option("--seconds", o->seconds, "seconds of the clip's audio to dub: the result's length (default: 4)");
  app.add_option("--mouth", o->mouth, "mouth region size (default: 256)");
  app.add_option("--batch", o->batches, "batch sizes (default: 4)");
  app.add_option("--precision", o->precisions,
                 "fp32, bf16, fp16 (CUDA only) and/or int8 (CPU only) (default: fp32 bf16)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16", "int8"}));
  app.add_option("--device", o->device, "cpu or cuda, for every row (default: cpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--baseline_frames", o->baseline_frames, "frames timed for the published computation (default: 3)");
  app.add_option("--python", o->python, "python3 with torch for the PyTorch baseline, or none (default: /usr/bin/python3)");
  app.add_option("--script", o->script, "the PyTorch baseline (default: <checkout>/bench/published_inference.py)");
  app.add_option("--threads", o->threads, "CPU threads (default: every core)");
  app.add_option("--landmarks", o->landmarks, "the video's landmarks as an OpenFace CSV (default: detected)");
  return [o] { run_infer_bench(*o); };
}

}  // namespace

DINET_BENCH("infer", "dinet infer frames/s end to end against the published per-frame computation",
            setup_infer_bench);

}  // namespace dinet::bench
