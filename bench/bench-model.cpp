// dinet-bench model: generator inference speed (frames/s) per mouth size, dtype and batch,
// with the reference branch recomputed per batch (as the published inference does) or
// encoded once and reused (as for a whole video with fixed reference frames).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench.h"
#include "dinet/networks.h"
#include "dinet/runtime.h"

namespace dinet::bench {
namespace {

struct ModelBenchOptions {
  std::vector<int64_t> mouths = {64, 128, 256};
  std::vector<int64_t> batches = {1, 4};
  std::vector<std::string> dtypes = {"fp32", "bf16"};
  int repeats = 3;
  int threads = 0;
};

// Median seconds of `repeats` calls after one warm-up call.
template <typename F>
double median_seconds(int repeats, F&& call) {
  call();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    call();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void run_model_bench(const ModelBenchOptions& options) {
  const int threads = set_threads(options.threads);
  std::printf("DINet generator, eval mode, CPU, %d threads, median of %d runs.\n\n", threads,
              options.repeats);
  const Table table({"mouth", "face", "dtype", "batch", "reference", "frames/s", "ms/frame"}, "rrlrlrr");
  torch::NoGradGuard no_grad;
  for (int64_t mouth : options.mouths) {
    const int64_t r = mouth / 2, q = r / 4, height = 3 * r + q, width = 2 * r + 2 * q;
    for (const std::string& dtype : options.dtypes) {
      const auto type = dtype == "bf16" ? at::kBFloat16 : at::kFloat;
      DINet net;
      net->eval();
      net->to(type);
      for (int64_t batch : options.batches) {
        const auto print_row = [&](const char* reference, double seconds) {
          table.row({cell("%lld", (long long)mouth), cell("%lldx%lld", (long long)height, (long long)width), dtype,
                     cell("%lld", (long long)batch), reference, cell("%.2f", batch / seconds),
                     cell("%.1f", 1000 * seconds / batch)});
        };
        try {
          const auto source = torch::rand({batch, 3, height, width}).to(type);
          const auto references = torch::rand({1, 15, height, width}).to(type);
          const auto audio = torch::randn({batch, 29, 5}).to(type);
          const auto batch_references = references.expand({batch, -1, -1, -1});
          print_row("recomputed", median_seconds(options.repeats, [&] {
                      net->forward(source, batch_references, audio);
                    }));
          const auto cached = net->encode_reference(references);
          print_row("cached", median_seconds(options.repeats, [&] {
                      net->forward_with_reference(source, cached, audio);
                    }));
        } catch (const c10::Error& e) {
          // LibTorch builds differ in which kernels have a bf16 version.
          const std::string message = e.what_without_backtrace();
          table.row({cell("%lld", (long long)mouth), cell("%lldx%lld", (long long)height, (long long)width), dtype,
                     cell("%lld", (long long)batch), "-", "unsupported: " + message.substr(0, message.find('\n'))});
        }
      }
    }
  }
}

std::function<void()> setup_model_bench(CLI::App& app) {
  auto options = std::make_shared<ModelBenchOptions>();
  app.add_option("--mouth", options->mouths, "mouth region sizes (default: 64 128 256)");
  app.add_option("--batch", options->batches, "batch sizes (default: 1 4)");
  app.add_option("--dtype", options->dtypes, "fp32 and/or bf16 (default: both)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  app.add_option("-r,--repeats", options->repeats, "timed runs per cell, after a warm-up (default: 3)");
  app.add_option("--threads", options->threads, "CPU threads (default: every core)");
  return [options] { run_model_bench(*options); };
}

}  // namespace

DINET_BENCH("model", "DINet generator frames/s per mouth size, dtype, batch, reference caching",
            setup_model_bench);

}  // namespace dinet::bench
