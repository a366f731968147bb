// What every test may need: where the sources, ../shared and the built executable are,
// a fresh temporary directory, and running `dinet` as a user would.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

namespace dinet::test {

std::filesystem::path source_dir();
// ../shared beside the checkout, or $DINET_SHARED; empty when absent.
std::filesystem::path shared_dir();
std::filesystem::path dinet_binary();

// A new empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};
// The message of the dinet::Error that `f` throws; a test failure and "" when it throws none.
std::string error_of(const std::function<void()>& f);

// Runs build/dinet with `args` (shell-quoted by the caller) and captures its output.
CommandResult run_dinet(const std::string& args);

}  // namespace dinet::test

// Skips the current test with a message when ../shared is absent.
#define DINET_REQUIRE_SHARED()                                                   \
  do {                                                                           \
    if (dinet::test::shared_dir().empty())                                       \
      GTEST_SKIP() << "../shared is absent: skipping a test that needs its data"; \
  } while (0)
