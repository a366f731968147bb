// What this CPU can do, found out in one place: the vector kernels (audio/matvec, infer's
// int8 loops), the choice of precision and the benchmark's machine line all ask here.
#pragma once

#include <string>

namespace dinet {

struct CpuFeatures {
  bool avx2_fma = false;     // AVX2 and FMA: the 8-wide float kernels
  bool avx512 = false;       // AVX-512 F and BW: the 16-wide kernels
  bool avx512_bf16 = false;  // vdpbf16ps / vcvtneps2bf16
  bool amx_bf16 = false;     // AMX tiles with bf16 products (oneDNN uses them; we do not)
  bool vnni = false;         // AVX512-VNNI int8 dot products (oneDNN's int8 convolutions)
  std::string model;         // "AMD EPYC 9B14", or "unknown CPU"
};

// Read once (cpuid through the compiler's builtins; /proc/cpuinfo for AMX and the model name).
const CpuFeatures& cpu_features();

// Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX-BF16). Elsewhere oneDNN
// emulates bf16 convolutions, slower than fp32.
bool cpu_has_native_bf16();

}  // namespace dinet
