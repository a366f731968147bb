// What every fuzz target shares. A target is one LLVMFuzzerTestOneInput that hands the bytes to
// one parser of outside input the way dinet does (most read files, so the bytes are written to
// a file first). A dinet::Error is the parser's correct answer to bad input; anything else that
// escapes (another exception type, a crash, a sanitizer report, an allocation past the limit)
// is a finding. Built as a libFuzzer program in the sanitizer build (`make fuzz`) and, for the
// normal test suite, with replay_main.cpp, which runs the corpus in fuzz/corpus/<target>/ once.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "dinet/error.h"

namespace dinet::fuzz {

// A folder of this process's own, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("dinet-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

// Writes `bytes` to scratch_dir()/name and returns that path.
inline std::filesystem::path write_input(std::string_view bytes, const std::string& name) {
  const auto file = scratch_dir() / name;
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
  return file;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `parse`, accepting success or a dinet::Error.
template <class Parse>
void parse_or_reject(Parse&& parse) {
  try {
    parse();
  } catch (const Error&) {
  }
}

}  // namespace dinet::fuzz
