// The benchmark program: `dinet-bench <name> [options]` runs one named measurement and
// prints a markdown table (machine, command, date, numbers) to paste into docs/PERFORMANCE.md.
// Each bench-<area>.cpp registers its measurements with DINET_BENCH.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace dinet::bench {

struct Entry {
  std::string name, help;
  // Declares the options into the subcommand and returns the function that runs it.
  std::function<std::function<void()>(CLI::App&)> setup;
};

bool register_bench(Entry entry);
// "CPU model, cores, date, the command line": the header of every result table.
std::string machine_header(int argc, char** argv);

}  // namespace dinet::bench

#define DINET_BENCH_CONCAT2(a, b) a##b
#define DINET_BENCH_CONCAT(a, b) DINET_BENCH_CONCAT2(a, b)
#define DINET_BENCH(name, help, setup_fn) \
  static const bool DINET_BENCH_CONCAT(dinet_bench_registered_, __LINE__) = \
      dinet::bench::register_bench({name, help, setup_fn})
