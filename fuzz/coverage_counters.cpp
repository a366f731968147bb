// Coverage for libFuzzer from GCC-compiled code. dinet's sanitizer build is compiled by GCC:
// Debian's LibTorch headers do not compile under clang in C++20 (ATen/core/List.h uses
// std::vector of the then incomplete c10::IValue, which C++20's constexpr vector rejects
// under clang), so clang's -fsanitize=fuzzer is out of reach. GCC's
// -fsanitize-coverage=trace-pc calls this function at every basic block; it counts the block
// in an array placed in the section libFuzzer reads as extra coverage counters. (libFuzzer's
// own trace-pc handler only prints that trace-pc is unsupported: CMakeLists.txt links a copy
// of Debian's libFuzzer with that symbol made weak.) GCC's trace-cmp calls go to libFuzzer's
// integer comparison hooks directly. In a program without libFuzzer the counters are never read.
#include <cstdint>

namespace {
constexpr uintptr_t kCounters = 1 << 16;
}

extern "C" {
__attribute__((section("__libfuzzer_extra_counters"), used)) uint8_t dinet_coverage_counters[kCounters];

__attribute__((no_sanitize_coverage, no_sanitize("address", "undefined"))) void __sanitizer_cov_trace_pc() {
  const auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  ++dinet_coverage_counters[(pc ^ (pc >> 16)) % kCounters];
}

// GCC's trace-cmp also reports floating-point comparisons, which libFuzzer has no hook for.
__attribute__((no_sanitize_coverage)) void __sanitizer_cov_trace_cmpf(float, float) {}
__attribute__((no_sanitize_coverage)) void __sanitizer_cov_trace_cmpd(double, double) {}
}
