// The one exception type the library throws for bad input and failed I/O.
// Its message is a single line that names the file (when there is one) and the problem,
// so the command-line tool can print it as is and exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace dinet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  // "<path>: <problem>"
  Error(const std::string& path, const std::string& problem)
      : std::runtime_error(path + ": " + problem) {}
};

}  // namespace dinet
