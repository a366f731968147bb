// dinet-bench train-profile / infer-profile: where a frame-training step, or the inference
// generator, spends its time. LibTorch's profiler records the operators of a few calls (after
// two warm-up calls); each top-level operator's time (including what it calls) is summed by
// name, and the convolutions by shape, so one can see whether the work is bound by
// convolution arithmetic or by everything around it. The forward convolutions' rate is set
// against this CPU's measured arithmetic peak: how close to the hardware's limit they run.
#include <torch/torch.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <cstdio>
#include <map>

#include "bench.h"
#include "cpu_peak.h"
#include "dinet/cpu.h"
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
// their tensor shapes; floating-point operations per step of the forward ones.
struct Profile {
  std::map<std::string, double> by_operator, conv_by_shape, conv_flops_by_shape;
};

// "4x256x104x80 256x256x3x3 256": the tensor arguments' sizes (empty ones, the non-tensor
// arguments, skipped), the key both the profiler's times and the operation counts use.
std::string format_shapes(const std::vector<std::vector<int64_t>>& shapes) {
  std::string out;
  for (const auto& shape : shapes) {
    if (shape.empty()) continue;
    out += out.empty() ? "" : " ";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? "x" : "") + std::to_string(shape[i]);
  }
  return out;
}

std::string shapes_of(const profiler::LegacyEvent& e) { return format_shapes(e.shapes()); }

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

// Rows by time, largest first; with `flops`, a column of the rate each row ran at.
void print_top(const char* title, const std::map<std::string, double>& times, int rows,
               const std::map<std::string, double>* flops = nullptr) {
  std::vector<std::pair<double, std::string>> sorted;
  double total = 0;
  for (const auto& [name, ms] : times) {
    sorted.emplace_back(ms, name);
    total += ms;
  }
  std::sort(sorted.rbegin(), sorted.rend());
  std::printf("\n");
  std::vector<std::string> columns = {title, "ms per call", "share"};
  if (flops) columns.push_back("GFLOP/s");
  const Table table(columns, std::string("lrrr").substr(0, columns.size()));
  for (int i = 0; i < rows && i < static_cast<int>(sorted.size()); ++i) {
    const auto& [ms, name] = sorted[i];
    std::vector<std::string> cells = {name, cell("%.1f", ms), cell("%.1f%%", 100 * ms / total)};
    if (flops) {
      const auto f = flops->find(name);
      cells.push_back(f != flops->end() && f->second > 0 ? cell("%.0f", f->second / ms / 1e6) : "");
    }
    table.row(cells);
  }
  table.row({"(all)", cell("%.1f", total), ""});
}

// Each aten::convolution's floating-point operations (a multiply and an add per weight tap
// and output value), summed by tensor shapes into `conv_flops` while the observer is
// installed: the legacy profiler keeps the shapes but not the stride and padding the count
// needs. (aten::conv2d would count twice under autocast, which calls it again on the cast inputs.)
thread_local std::map<std::string, double>* conv_flops = nullptr;

std::unique_ptr<at::ObserverContext> count_conv_flops(const at::RecordFunction& fn) {
  if (!conv_flops || std::string(fn.name()) != "aten::convolution") return nullptr;
  // input, weight, bias, stride, padding, dilation, transposed, output_padding, groups
  const auto inputs = fn.inputs();
  if (inputs.size() != 9 || inputs[6].toBool() || inputs[1].toTensor().dim() != 4) return nullptr;
  std::vector<std::vector<int64_t>> shapes;
  for (const c10::IValue& input : inputs)
    if (input.isTensor() && input.toTensor().defined()) shapes.push_back(input.toTensor().sizes().vec());
  const auto x = inputs[0].toTensor().sizes(), w = inputs[1].toTensor().sizes();
  // A one-number stride, padding or dilation (the defaults are) holds for both dimensions.
  const auto arg = [&](size_t i, int d) {
    const std::vector<int64_t> v = inputs[i].toIntVector();
    return v.size() > static_cast<size_t>(d) ? v[d] : v.at(0);
  };
  double flops = 2.0 * double(x[0]) * double(w[0]) * double(w[1]);  // w[1]: input channels per group
  for (int d = 0; d < 2; ++d) {
    const int64_t size = (x[2 + d] + 2 * arg(4, d) - arg(5, d) * (w[2 + d] - 1) - 1) / arg(3, d) + 1;
    flops *= double(w[2 + d]) * double(size);
  }
  (*conv_flops)["forward  " + format_shapes(shapes)] += flops;
  return nullptr;
}

// The operators of `steps` calls of `call`, after two unprofiled ones (oneDNN picks and
// caches its kernels in the first).
template <typename Call>
Profile profile_calls(int steps, Call call) {
  for (int i = 0; i < 2; ++i) call();
  Profile p;
  std::map<std::string, double> flops;
  conv_flops = &flops;
  const at::CallbackHandle counter =
      at::addThreadLocalCallback(at::RecordFunctionCallback(count_conv_flops).needsInputs(true));
  {
    const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::CPU,
                                                       /*report_input_shapes=*/true);
    profiler::TLSLegacyProfilerGuard guard(config, [&](const profiler::thread_event_lists& lists) {
      p = summarize(lists, steps);
    });
    for (int i = 0; i < steps; ++i) call();
  }
  at::removeCallback(counter);
  conv_flops = nullptr;
  for (const auto& [shape, f] : flops) p.conv_flops_by_shape[shape] = f / steps;
  return p;
}

// The forward convolutions' work and rate against the CPU's peak, measured right after the
// profiled calls. `per_item`: what one call produces (a sample, a frame) for the bound.
void print_peak(const ProfileOptions& o, int threads, const Profile& p, const char* per_item) {
  double flops = 0, ms = 0;
  for (const auto& [shape, f] : p.conv_flops_by_shape) {
    flops += f;
    ms += p.conv_by_shape.at(shape);
  }
  // int8 keeps the other layers in bf16 where the CPU has it; its int8 convolutions are the
  // quantized:: operators, not counted here.
  const bool bf16 = o.precision == "bf16" || (o.precision == "int8" && cpu_has_native_bf16());
  const char* arithmetic = bf16 ? "bf16" : "fp32";
  const Peak peak = measure_peak(bf16, threads);
  std::printf("\nForward %sconvolutions: %.1f GFLOP a call (%.1f a %s) in %.1f ms: %.0f GFLOP/s.\n",
              o.precision == "int8" ? "floating-point " : "", flops / 1e9, flops / 1e9 / o.batch, per_item, ms,
              flops / ms / 1e6);
  if (peak.gflops <= 0) {
    std::printf("No peak probe for %s on this CPU.\n", arithmetic);
    return;
  }
  std::printf("This CPU's peak for %s (%s on %d threads, measured just after): %.0f GFLOP/s, so the "
              "convolutions ran at %.0f%% of it; the peak allows at most %.2f %ss/s of these forward convolutions.\n",
              arithmetic, peak.instruction.c_str(), threads, peak.gflops, 100 * flops / ms / 1e6 / peak.gflops,
              peak.gflops * 1e9 * o.batch / flops, per_item);
}

void print_profile(const char* what, const ProfileOptions& o, int threads, const Profile& p,
                   const char* conv_title) {
  const FaceSize face = face_size(static_cast<int>(o.mouth));
  std::printf("%s, mouth %lld (%dx%d faces), batch %lld, %s, %d threads, %d profiled calls.\n", what,
              static_cast<long long>(o.mouth), face.height, face.width, static_cast<long long>(o.batch),
              o.precision.c_str(), threads, o.steps);
  print_top("top-level operator", p.by_operator, o.rows);
  print_top(conv_title, p.conv_by_shape, o.rows, &p.conv_flops_by_shape);
}

void run_train_profile(const ProfileOptions& o) {
  const int threads = set_threads(o.threads);
  const train::FrameBatch batch = train::random_frame_batch(face_size(static_cast<int>(o.mouth)), o.batch);
  torch::manual_seed(0);
  train::FrameStep step(DINet(3, 15, 29), Discriminator(3), VGG19(),
                        train::resolve_compute("cpu", o.precision, /*channels_last=*/true), 1e-4, 1e-4, 10);
  const Profile p = profile_calls(o.steps, [&] { step.step(batch); });
  print_profile("Frame-training step", o, threads, p, "convolution (grad-output/input, input, weight shapes)");
  print_peak(o, threads, p, "sample");
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
  print_peak(o, threads, p, "frame");
}

std::function<std::function<void()>(CLI::App&)> profile_setup(int64_t default_mouth,
                                                              void (*run)(const ProfileOptions&)) {
  return [default_mouth, run](CLI::App& app) -> std::function<void()> {
    auto o = std::make_shared<ProfileOptions>();
    o->mouth = default_mouth;
    app.add_option("--mouth", o->mouth, "mouth region size (default: " + std::to_string(default_mouth) + ")");
    app.add_option("--batch", o->batch, "batch size (default: 4)");
    app.add_option("--precision", o->precision, "fp32, bf16 or int8 (inference only) (default: bf16)")
        ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
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
