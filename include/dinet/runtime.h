// Process-wide settings every computing command applies first.
#pragma once

namespace dinet {

// Sets LibTorch's intra-op and inter-op thread counts (and OpenCV's). Debian's LibTorch
// otherwise runs on one thread. n <= 0 means every core. Returns the count in effect.
int set_threads(int n);

// Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo).
// Elsewhere oneDNN emulates bf16 convolutions, slower than fp32.
bool cpu_has_native_bf16();

}  // namespace dinet
