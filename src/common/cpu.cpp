#include "dinet/cpu.h"

#include <fstream>
#include <sstream>

namespace dinet {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
  f.model = "unknown CPU";
  std::ifstream in("/proc/cpuinfo");
  bool flags_seen = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0 && f.model == "unknown CPU" && line.find(':') != std::string::npos)
      f.model = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) != 0 || flags_seen) continue;
    flags_seen = true;
    std::istringstream words(line);
    for (std::string flag; words >> flag;)
      if (flag == "amx_bf16") f.amx_bf16 = true;
  }
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
  f.vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

bool cpu_has_native_bf16() { return cpu_features().avx512_bf16 || cpu_features().amx_bf16; }

}  // namespace dinet
