// dinet-bench train-profile / infer-profile: where a frame-training step, or the inference
// generator, spends its time. LibTorch's profiler records the operators of a few calls (after
// two warm-up calls); each top-level operator's time (including what it calls) is summed by
// name, and the convolutions by shape, so one can see whether the work is bound by
// convolution arithmetic or by everything around it.
#include <torch/torch.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <cstdio>
#include <map>

#include "bench.h"
#include "dinet/crop.h"
#include "dinet/infer.h"
#include "dinet/networks.h"
#include "dinet/runtime.h"
#include "infer/generator.h"
#include "train/compute.h"
#include "train/frame_step.h"

namespace dinet::bench {
namespace {

namespace profiler = torch::autograd::profiler;

struct ProfileOptions {
  int64_t mouth = 64;
  int64_t batch = 4;
  std::string precision = "bf16";
  int steps = 3;
  int threads = 0;
  int rows = 12;
};

// Milliseconds per step by top-level operator, and of convolutions (forward and backward) by
// their tensor shapes.
struct Profile {
  std::map<std::string, double> by_operator, conv_by_shape;
};

std::string shapes_of(const profiler::LegacyEvent& e) {
  std::string out;
  for (const auto& shape : e.shapes()) {
    if (shape.empty()) continue;
    out += out.empty() ? "" : " ";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? "x" : "") + std::to_string(shape[i]);
  }
  return out;
}

Profile summarize(const profiler::thread_event_lists& lists, int steps) {
  Profile p;
  for (const auto& list : lists) {
    std::vector<const profiler::LegacyEvent*> open;
    for (const auto& e : list) {
      if (e.kindStr() == std::string("push")) {
        open.push_back(&e);
        continue;
      }
      if (e.kindStr() != std::string("pop") || open.empty()) continue;
      const profiler::LegacyEvent* start = open.back();
      open.pop_back();
      const double ms = start->cpuElapsedUs(e) / 1e3 / steps;
      const std::string name = start->name();
      if (open.empty()) p.by_operator[name] += ms;
      if (name == "aten::convolution" || name == "aten::convolution_backward")
        p.conv_by_shape[(name == "aten::convolution" ? "forward  " : "backward ") + shapes_of(*start)] += ms;
    }
  }
  return p;
}

void print_top(const char* title, const std::map<std::string, double>& times, int rows) {
  std::vector<std::pair<double, std::string>> sorted;
  double total = 0;
  for (const auto& [name, ms] : times) {
    sorted.emplace_back(ms, name);
    total += ms;
  }
  std::sort(sorted.rbegin(), sorted.rend());
  std::printf("\n| %s | ms per call | share |\n| --- | ---: | ---: |\n", title);
  for (int i = 0; i < rows && i < static_cast<int>(sorted.size()); ++i)
    std::printf("| %s | %.1f | %.1f%% |\n", sorted[i].second.c_str(), sorted[i].first, 100 * sorted[i].first / total);
  std::printf("| (all) | %.1f | |\n", total);
}

// The operators of `steps` calls of `call`, after two unprofiled ones (oneDNN picks and
// caches its kernels in the first).
template <typename Call>
Profile profile_calls(int steps, Call call) {
  for (int i = 0; i < 2; ++i) call();
  Profile p;
  const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::CPU,
                                                     /*report_input_shapes=*/true);
  profiler::TLSLegacyProfilerGuard guard(config, [&](const profiler::thread_event_lists& lists) {
    p = summarize(lists, steps);
  });
  for (int i = 0; i < steps; ++i) call();
  return p;
}

void print_profile(const char* what, const ProfileOptions& o, int threads, const Profile& p,
                   const char* conv_title) {
  const FaceSize face = face_size(static_cast<int>(o.mouth));
  std::printf("%s, mouth %lld (%dx%d faces), batch %lld, %s, %d threads, %d profiled calls.\n", what,
              static_cast<long long>(o.mouth), face.height, face.width, static_cast<long long>(o.batch),
              o.precision.c_str(), threads, o.steps);
  print_top("top-level operator", p.by_operator, o.rows);
  print_top(conv_title, p.conv_by_shape, o.rows);
}

void run_train_profile(const ProfileOptions& o) {
  const int threads = set_threads(o.threads);
  const train::FrameBatch batch = train::random_frame_batch(face_size(static_cast<int>(o.mouth)), o.batch);
  torch::manual_seed(0);
  train::FrameStep step(DINet(3, 15, 29), Discriminator(3), VGG19(),
                        train::resolve_compute("cpu", o.precision, /*channels_last=*/true), 1e-4, 1e-4, 10);
  const Profile p = profile_calls(o.steps, [&] { step.step(batch); });
  print_profile("Frame-training step", o, threads, p, "convolution (grad-output/input, input, weight shapes)");
}

// The inference generator: references set once, `batch` faces a call.
void run_infer_profile(const ProfileOptions& o) {
  const int threads = set_threads(o.threads);
  const FaceSize face = face_size(static_cast<int>(o.mouth));
  torch::manual_seed(0);
  infer::Generator generator(DINet(3, 15, 29), "cpu", parse_precision(o.precision));
  generator.set_reference(torch::rand({1, 15, face.height, face.width}));
  const at::Tensor source = torch::rand({o.batch, 3, face.height, face.width});
  const at::Tensor audio = torch::randn({o.batch, 29, 5});
  const Profile p = profile_calls(o.steps, [&] { generator.forward(source, audio); });
  print_profile("Inference generator", o, threads, p, "convolution (input, weight shapes)");
}

std::function<std::function<void()>(CLI::App&)> profile_setup(int64_t default_mouth,
                                                              void (*run)(const ProfileOptions&)) {
  return [default_mouth, run](CLI::App& app) -> std::function<void()> {
    auto o = std::make_shared<ProfileOptions>();
    o->mouth = default_mouth;
    app.add_option("--mouth", o->mouth, "mouth region size (default: " + std::to_string(default_mouth) + ")");
    app.add_option("--batch", o->batch, "batch size (default: 4)");
    app.add_option("--precision", o->precision, "fp32 or bf16 (default: bf16)")->check(CLI::IsMember({"fp32", "bf16"}));
    app.add_option("-r,--steps", o->steps, "profiled calls, after two warm-up calls (default: 3)");
    app.add_option("--threads", o->threads, "CPU threads (default: every core)");
    app.add_option("--rows", o->rows, "rows per table (default: 12)");
    return [o, run] { run(*o); };
  };
}

}  // namespace

DINET_BENCH("train-profile", "where a frame-training step spends its time: operators and convolutions",
            profile_setup(64, run_train_profile));
DINET_BENCH("infer-profile", "where the inference generator spends its time: operators and convolutions",
            profile_setup(256, run_infer_profile));

}  // namespace dinet::bench
