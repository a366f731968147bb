// dinet-bench train-memory: peak resident memory and time of a frame-training step per batch
// size, with and without --gradient_checkpointing. The peak of a process only grows, so each
// cell runs in a child process of its own and the parent reads the child's peak (wait4).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

struct MemoryBenchOptions {
  int64_t mouth = 256;
  std::vector<int64_t> batches = {1, 2, 4};
  std::string precision = "fp32";
  int steps = 2;
  int threads = 0;
};

struct Cell {
  double peak_gib = 0;
  double seconds = 0;  // median step time after the warm-up step
};

// In the child: the steps, as the trainer runs them (random weights, channels-last).
double step_seconds(const MemoryBenchOptions& o, int64_t batch, bool checkpointing) {
  set_threads(o.threads);
  torch::manual_seed(0);
  const FaceSize face = face_size(static_cast<int>(o.mouth));
  DINet generator(3, 15, 29);
  generator->set_gradient_checkpointing(checkpointing);
  train::FrameStep step(generator, Discriminator(3), VGG19(),
                        train::resolve_compute("cpu", o.precision, /*channels_last=*/true), 1e-4, 1e-4, 10);
  const train::FrameBatch b = train::random_frame_batch(face, batch);
  step.step(b);
  return median_timing(o.steps, [&] { step.step(b); }).wall;
}

Cell measure_cell(const MemoryBenchOptions& o, int64_t batch, bool checkpointing) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    ::close(fds[0]);
    double seconds = -1;
    try {
      seconds = step_seconds(o, batch, checkpointing);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dinet-bench: %s\n", e.what());
    }
    const bool written = ::write(fds[1], &seconds, sizeof seconds) == sizeof seconds;
    ::_exit(written && seconds >= 0 ? 0 : 1);
  }
  ::close(fds[1]);
  Cell cell;
  const bool read = ::read(fds[0], &cell.seconds, sizeof cell.seconds) == sizeof cell.seconds;
  ::close(fds[0]);
  int status = 0;
  rusage usage{};
  ::wait4(child, &status, 0, &usage);
  if (!read || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the step at batch " + std::to_string(batch) + " failed");
  cell.peak_gib = static_cast<double>(usage.ru_maxrss) / (1024.0 * 1024.0);  // KiB on Linux
  return cell;
}

void run_memory_bench(const MemoryBenchOptions& o) {
  const FaceSize face = face_size(static_cast<int>(o.mouth));
  std::printf("Frame training step (generator + discriminator + VGG19 perceptual loss at two scales), mouth %lld "
              "(face %dx%d), CPU %s, channels-last, random weights; each cell in its own process: peak resident "
              "memory of the process (weights, Adam state, one warm-up and %d timed steps), median step time.\n\n",
              static_cast<long long>(o.mouth), face.height, face.width, o.precision.c_str(), o.steps);
  const Table table({"batch", "peak memory", "peak with checkpointing", "saved", "step s", "step s with checkpointing",
                     "time added"},
                    "rrrrrrr");
  for (const int64_t batch : o.batches) {
    const Cell kept = measure_cell(o, batch, false);
    const Cell recomputed = measure_cell(o, batch, true);
    table.row({cell("%lld", static_cast<long long>(batch)), cell("%.2f GiB", kept.peak_gib),
               cell("%.2f GiB", recomputed.peak_gib), cell("%.0f%%", 100 * (1 - recomputed.peak_gib / kept.peak_gib)),
               cell("%.2f", kept.seconds), cell("%.2f", recomputed.seconds),
               cell("%+.0f%%", 100 * (recomputed.seconds / kept.seconds - 1))});
  }
}

std::function<void()> setup_memory_bench(CLI::App& app) {
  auto o = std::make_shared<MemoryBenchOptions>();
  app.add_option("--mouth", o->mouth, "mouth region size (default: 256)");
  app.add_option("--batch", o->batches, "batch sizes (default: 1 2 4)");
  app.add_option("--precision", o->precision, "fp32 or bf16 (default: fp32)")->check(CLI::IsMember({"fp32", "bf16"}));
  app.add_option("-r,--steps", o->steps, "timed steps per cell, after a warm-up (default: 2)");
  app.add_option("--threads", o->threads, "CPU threads (default: every core)");
  return [o] { run_memory_bench(*o); };
}

}  // namespace

DINET_BENCH("train-memory",
            "peak memory and step time of frame training per batch size, with and without gradient checkpointing",
            setup_memory_bench);

}  // namespace dinet::bench
