#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <thread>
#include <vector>

#include "bench.h"
#include "dinet/error.h"

namespace dinet::bench {
namespace {

std::vector<Entry>& registry() {
  static std::vector<Entry> entries;
  return entries;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace

bool register_bench(Entry entry) {
  registry().push_back(std::move(entry));
  return true;
}

std::string machine_header(int argc, char** argv) {
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  std::string cmd;
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
  return "Machine: " + cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) +
         " cores. Date: " + date + ". Command: `" + cmd + "`\n";
}

}  // namespace dinet::bench

int main(int argc, char** argv) {
  CLI::App app{"dinet-bench: the project's measurements; each prints a markdown table"};
  app.require_subcommand(1);
  std::function<void()> run;
  for (auto& entry : dinet::bench::registry()) {
    auto* sub = app.add_subcommand(entry.name, entry.help);
    auto fn = entry.setup(*sub);
    sub->callback([&run, fn] { run = fn; });
  }
  CLI11_PARSE(app, argc, argv);
  try {
    std::printf("%s\n", dinet::bench::machine_header(argc, argv).c_str());
    run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dinet-bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
