#include "dinet/runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <opencv2/core.hpp>

#include <climits>
#include <thread>

namespace dinet {

int set_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  // Inter-op threads can only be set once, before any parallel work has run.
  static bool interop_set = false;
  if (!interop_set) {
    interop_set = true;
    try {
      at::set_num_interop_threads(n);
    } catch (const std::exception&) {
    }
  }
  cv::setNumThreads(n);
  return n;
}

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);  // large blocks from the heap, not from their own mapping
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // and the heap's free top is not returned either
}

}  // namespace dinet
