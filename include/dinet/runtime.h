// Process-wide settings every computing command applies first.
#pragma once

namespace dinet {

// Sets LibTorch's intra-op and inter-op thread counts (and OpenCV's). Debian's LibTorch
// otherwise runs on one thread. n <= 0 means every core. Returns the count in effect.
int set_threads(int n);

// Keeps memory that is freed for the next allocation instead of handing it back to the
// system. glibc serves blocks over 32 MB with fresh mmap()s, so every large tensor of every
// call faults in and zeroes new pages (a quarter of the inference generator's time at mouth
// 256); with this, the same-sized tensors of the next call reuse the same memory. The
// process keeps its peak footprint. Called once at start by the programs.
void keep_freed_memory();

}  // namespace dinet
