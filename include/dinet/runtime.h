// Process-wide settings every computing command applies first.
#pragma once

namespace dinet {

// Sets LibTorch's intra-op and inter-op thread counts (and OpenCV's). Debian's LibTorch
// otherwise runs on one thread. n <= 0 means every core. Returns the count in effect.
int set_threads(int n);

}  // namespace dinet
