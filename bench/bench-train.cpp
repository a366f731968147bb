// dinet-bench train-frame: frame-training samples/s per mouth size, ours against the
// published training step (bench/published_frame_step.py, PyTorch) measured in the same run
// on the same random batches' shapes, so the two numbers share the machine's state.
#include <torch/torch.h>

#include <cstdio>

#include "bench.h"
#include "dinet/crop.h"
#include "dinet/networks.h"
#include "dinet/runtime.h"
#include "train/compute.h"
#include "train/frame_step.h"

namespace dinet::bench {
namespace {

struct TrainBenchOptions {
  std::vector<int64_t> mouths = {64, 128, 256};
  // One per mouth size. 24 at 64 is the published recipe's batch there. The published 80 at
  // 128 and 12 at 256 would take minutes per step on a small CPU; not 1 at 256 either:
  // oneDNN's bfloat16 training kernels are slow at batch 1 (no faster than float32).
  std::vector<int64_t> batches = {24, 4, 2};
  std::vector<std::string> precisions = {"fp32", "bf16"};
  int steps = 3;
  int threads = 0;
  std::string device = "cpu";
  std::string python = "/usr/bin/python3";  // empty: skip the published baseline
  std::string script = "bench/published_frame_step.py";
};

// samples/s of the published step, from the script's JSON line; 0 when it cannot run.
double published_samples_per_second(const TrainBenchOptions& o, int64_t mouth, int64_t batch, int threads) {
  if (o.python.empty()) return 0;
  const std::string cmd = o.python + " " + o.script + " --mouth " + std::to_string(mouth) + " --batch " +
                          std::to_string(batch) + " --steps " + std::to_string(o.steps) + " --threads " +
                          std::to_string(threads) + " --device " + o.device;
  const std::optional<nlohmann::json> json = run_json_command(cmd);
  return json && json->contains("samples_per_s") ? json->at("samples_per_s").get<double>() : 0;
}

void run_train_bench(const TrainBenchOptions& o) {
  if (o.batches.size() != o.mouths.size()) throw std::runtime_error("--batch needs one size per --mouth");
  const int threads = set_threads(o.threads);
  std::printf("Frame training step (generator + discriminator + VGG19 perceptual loss at two scales), %s, "
              "%d threads, median of %d steps after one warm-up. Published: %s.\n\n",
              o.device.c_str(), threads, o.steps, o.python.empty() ? "not run" : "bench/published_frame_step.py, PyTorch");
  std::vector<std::string> columns = {"mouth", "face", "batch", "published samples/s"};
  for (const auto& p : o.precisions) columns.insert(columns.end(), {"ours " + p + " samples/s", "speed-up"});
  const Table table(columns, std::string(columns.size(), 'r'));
  for (size_t m = 0; m < o.mouths.size(); ++m) {
    const FaceSize face = face_size(static_cast<int>(o.mouths[m]));
    const int64_t batch = o.batches[m];
    const double published = published_samples_per_second(o, face.mouth, batch, threads);
    std::vector<std::string> cells = {cell("%d", face.mouth), cell("%dx%d", face.height, face.width),
                                      cell("%lld", static_cast<long long>(batch)),
                                      published > 0 ? cell("%.3f", published) : "-"};
    const train::FrameBatch b = train::random_frame_batch(face, batch);
    for (const std::string& precision : o.precisions) {
      try {
        torch::manual_seed(0);
        train::FrameStep step(DINet(3, 15, 29), Discriminator(3), VGG19(),
                              train::resolve_compute(o.device, precision, /*channels_last=*/true), 1e-4, 1e-4, 10);
        step.step(b);  // warm-up: oneDNN picks and caches its kernels
        const double seconds = median_timing(o.steps, [&] { step.step(b); }).wall;
        const double ours = batch / seconds;
        if (published > 0)
          cells.insert(cells.end(), {cell("%.3f", ours), cell("%.2fx", ours / published)});
        else
          cells.insert(cells.end(), {cell("%.3f", ours), "-"});
      } catch (const std::exception& e) {
        const std::string message = e.what();
        cells.insert(cells.end(), {"unsupported: " + message.substr(0, message.find('\n')), "-"});
      }
    }
    table.row(cells);
  }
}

std::function<void()> setup_train_bench(CLI::App& app) {
  auto o = std::make_shared<TrainBenchOptions>();
  app.add_option("--mouth", o->mouths, "mouth region sizes (default: 64 128 256)");
  app.add_option("--batch", o->batches, "one batch size per mouth size (default: 24 4 2)");
  app.add_option("--precision", o->precisions, "fp32, bf16 and/or fp16 (CUDA only) (default: fp32 bf16)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  app.add_option("--device", o->device, "cpu or cuda, for both steps (default: cpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("-r,--steps", o->steps, "timed steps per cell, after a warm-up (default: 3)");
  app.add_option("--threads", o->threads, "CPU threads (default: every core)");
  app.add_option("--python", o->python,
                 "interpreter with torch for the published baseline; '' to skip (default: /usr/bin/python3)");
  app.add_option("--script", o->script,
                 "the published step in PyTorch (default: bench/published_frame_step.py, from the repository root)");
  return [o] { run_train_bench(*o); };
}

}  // namespace

DINET_BENCH("train-frame", "frame-training samples/s per mouth size: ours (fp32, bf16) vs the published step",
            setup_train_bench);

}  // namespace dinet::bench
