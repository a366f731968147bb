// The arithmetic ceiling of this CPU, measured: how many floating-point operations a second its
// vector units retire on every thread when nothing else limits them. The profile commands
// compare the convolutions' rate with it.
#pragma once

#include <string>

namespace dinet::bench {

struct Peak {
  double gflops = 0;        // 0 when no probe runs on this CPU (one without AVX-512)
  std::string instruction;  // what was timed, e.g. "vdpbf16ps zmm"
};

// bf16: dot-product instructions with float32 sums (what oneDNN's bf16 kernels use);
// otherwise float32 fused multiply-adds. `threads` threads; the best of five runs, about
// `seconds` in all.
Peak measure_peak(bool bf16, int threads, double seconds = 0.5);

}  // namespace dinet::bench
