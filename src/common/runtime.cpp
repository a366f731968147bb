#include "dinet/runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <opencv2/core.hpp>

#include <climits>
#include <fstream>
#include <sstream>
#include <string>
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

bool cpu_has_native_bf16() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    for (std::string flag; words >> flag;)
      if (flag == "avx512_bf16" || flag == "amx_bf16") return true;
    return false;
  }
  return false;
}

}  // namespace dinet
