// What the tests of interrupted or killed writers look for: our temporaries left behind.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace dinet::test {

// Our temporaries anywhere under `dir`: AtomicFile's "*.tmp-<pid>-<n>*" and infer's spill files.
inline std::vector<std::filesystem::path> temporaries_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> found;
  if (!std::filesystem::exists(dir)) return found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".tmp-") != std::string::npos || name.ends_with(".spill")) found.push_back(entry.path());
  }
  return found;
}

}  // namespace dinet::test
