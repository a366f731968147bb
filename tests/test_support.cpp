#include "test_support.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "dinet/error.h"

namespace dinet::test {
namespace fs = std::filesystem;

fs::path source_dir() { return DINET_SOURCE_DIR; }

fs::path shared_dir() {
  if (const char* env = std::getenv("DINET_SHARED"); env && *env && fs::exists(env)) return env;
  const fs::path beside = source_dir().parent_path() / "shared";
  if (fs::exists(beside / "fixtures")) return beside;
  return {};
}

fs::path dinet_binary() { return DINET_BINARY; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const dinet::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no dinet::Error thrown";
  return {};
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("dinet-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

CommandResult run_dinet(const std::string& args) {
  const std::string cmd = dinet_binary().string() + " " + args + " 2>&1";
  CommandResult result{-1, {}};
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace dinet::test
