// Interoperability tests against Python (torch.load, numpy.load): find an interpreter that
// has the module, run a script with it. Tests skip with a message when none has it.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace dinet::test {

// Captures stdout and stderr of a shell command.
inline CommandResult run_shell(const std::string& command) {
  CommandResult result{-1, {}};
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// $DINET_PYTHON, python3 or /usr/bin/python3 (a pyenv python3 may shadow the system one that
// has the Debian packages): the first that imports `module`; empty when none does.
inline std::string python_with(const std::string& module) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("DINET_PYTHON"); env && *env) candidates.push_back(env);
  candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
  for (const auto& python : candidates)
    if (run_shell(python + " -c 'import " + module + "'").exit_code == 0) return python;
  return {};
}

// Writes `script` into `dir` and runs it with `python` and `args` (shell words).
inline CommandResult run_python(const std::string& python, const TempDir& dir,
                                const std::string& script, const std::string& args = "") {
  const auto file = dir / "script.py";
  std::ofstream(file) << script;
  return run_shell(python + " " + file.string() + " " + args);
}

}  // namespace dinet::test

// Skips the current test with a message unless some Python imports `module`; sets `var`.
#define DINET_REQUIRE_PYTHON(var, module)                   \
  const std::string var = dinet::test::python_with(module); \
  if (var.empty()) GTEST_SKIP() << "no python3 with '" module "' here: skipping an interop test"
