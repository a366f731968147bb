#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <thread>
#include <vector>

#include "bench.h"
#include "dinet/cpu.h"
#include "dinet/error.h"
#include "dinet/runtime.h"

namespace dinet::bench {
namespace {

std::vector<Entry>& registry() {
  static std::vector<Entry> entries;
  return entries;
}

}  // namespace

bool register_bench(Entry entry) {
  registry().push_back(std::move(entry));
  return true;
}

std::optional<nlohmann::json> run_json_command(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (!pipe) return std::nullopt;
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  if (::pclose(pipe) != 0) return std::nullopt;
  std::istringstream lines(out);
  std::string last;  // the last line that opens a JSON object
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line.front() == '{') last = line;
  if (last.empty()) return std::nullopt;
  try {
    return nlohmann::json::parse(last);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string machine_header(int argc, char** argv) {
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  std::string cmd;
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
  return "Machine: " + cpu_features().model + ", " + std::to_string(std::thread::hardware_concurrency()) +
         " cores. Date: " + date + ". Command: `" + cmd + "`\n";
}

}  // namespace dinet::bench

int main(int argc, char** argv) {
  dinet::keep_freed_memory();
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
