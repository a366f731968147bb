// The benchmark program: `dinet-bench <name> [options]` runs one named measurement and
// prints a markdown table (machine, command, date, numbers) to paste into docs/PERFORMANCE.md.
// Each bench-<area>.cpp registers its measurements with DINET_BENCH.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace dinet::bench {

struct Entry {
  std::string name, help;
  // Declares the options into the subcommand and returns the function that runs it.
  std::function<std::function<void()>(CLI::App&)> setup;
};

bool register_bench(Entry entry);
// "CPU model, cores, date, the command line": the header of every result table.
std::string machine_header(int argc, char** argv);

// Runs a baseline command (a Python script of the published computation; its stderr
// dropped) and returns the last JSON object it printed; nothing when it failed or printed none.
std::optional<nlohmann::json> run_json_command(const std::string& command);

// A random-weight generator checkpoint on the mel feature (our layout) at mouth size `mouth`,
// written into `dir`: for measurements of speed, not of quality.
std::filesystem::path random_mel_model(const std::filesystem::path& dir, int mouth);

// printf into a string: one table cell.
std::string cell(const char* format, ...) __attribute__((format(printf, 1, 2)));

// A markdown table printed as it is measured: the header when made, then each row as soon as it
// is known (flushed, so a long run shows its progress). `align` has a letter per column: 'l' for
// text, 'r' for numbers. A row with fewer cells is padded with "-".
class Table {
 public:
  Table(const std::vector<std::string>& columns, const std::string& align);
  void row(const std::vector<std::string>& cells) const;

 private:
  size_t columns_;
};

// A scratch folder, emptied when made and removed however the measurement ends.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(std::filesystem::path p) : path(std::move(p)) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// Seconds of wall time and of CPU time over every thread of the process: other processes on
// a shared machine inflate the CPU time far less than the wall time.
struct Timing {
  double wall = 0, cpu = 0;
};

template <typename F>
Timing measure(F&& run) {
  const std::clock_t cpu = std::clock();
  const auto start = std::chrono::steady_clock::now();
  run();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          double(std::clock() - cpu) / CLOCKS_PER_SEC};
}

// The run with the median wall time of `repeats`.
template <typename F>
Timing median_timing(int repeats, F&& run) {
  std::vector<Timing> runs;
  for (int i = 0; i < repeats; ++i) runs.push_back(measure(run));
  std::sort(runs.begin(), runs.end(), [](const Timing& a, const Timing& b) { return a.wall < b.wall; });
  return runs[runs.size() / 2];
}

}  // namespace dinet::bench

#define DINET_BENCH_CONCAT2(a, b) a##b
#define DINET_BENCH_CONCAT(a, b) DINET_BENCH_CONCAT2(a, b)
#define DINET_BENCH(name, help, setup_fn) \
  static const bool DINET_BENCH_CONCAT(dinet_bench_registered_, __LINE__) = \
      dinet::bench::register_bench({name, help, setup_fn})
