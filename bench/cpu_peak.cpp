// A loop of twelve independent multiply-add chains keeps every vector pipe busy: the chains
// outnumber the instructions in flight (latency x throughput), and nothing is loaded.
#include "cpu_peak.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DINET_X86 1
#endif

#include "dinet/cpu.h"

namespace dinet::bench {
namespace {

constexpr long kChains = 12;

#ifdef DINET_X86
// One template for both AVX-512 probes: intrinsics compile only inside a function with their
// target, which a lambda or a helper would not inherit. The fp32 instance issues no bf16
// instruction, so it also runs on AVX-512 CPUs without BF16.
template <bool kBf16>
__attribute__((target("avx512f,avx512bf16"))) float avx512_chains(long rounds) {
  const __m512 x = _mm512_set1_ps(1e-8f);
  const __m512bh one = (__m512bh)_mm512_set1_epi16(0x3f80);  // 1.0 in bf16
  __m512 a[kChains];
  for (__m512& v : a) v = _mm512_setzero_ps();
  for (long r = 0; r < rounds; ++r)
#pragma GCC unroll 12
    for (__m512& v : a) {
      if constexpr (kBf16)
        v = _mm512_dpbf16_ps(v, one, one);  // 32 products summed in pairs into 16 floats
      else
        v = _mm512_fmadd_ps(v, x, x);
    }
  float sink = 0;  // used, so that the loop is kept
  for (__m512& v : a) sink += _mm512_reduce_add_ps(v);
  return sink;
}
#endif

struct Probe {
  float (*run)(long rounds) = nullptr;
  double operations_per_instruction = 0;
  const char* instruction = "";
};

Probe pick_probe(bool bf16) {
#ifdef DINET_X86
  if (bf16 && cpu_features().avx512_bf16) return {avx512_chains<true>, 64, "vdpbf16ps zmm"};
  if (!bf16 && cpu_features().avx512) return {avx512_chains<false>, 32, "vfmadd zmm"};
#endif
  (void)bf16;
  return {};
}

double seconds_of(float (*run)(long), long rounds, int threads) {
  std::vector<std::thread> workers;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) workers.emplace_back([=] { volatile float keep = run(rounds); (void)keep; });
  for (std::thread& w : workers) w.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Peak measure_peak(bool bf16, int threads, double seconds) {
  const Probe probe = pick_probe(bf16);
  if (!probe.run) return {};
  // Size the loop from a short one; then the best of five: on a shared machine other work can
  // only slow a run down.
  long rounds = 1 << 20;
  const double trial = seconds_of(probe.run, rounds, 1);
  rounds = std::max<long>(rounds, static_cast<long>(rounds * seconds / 5 / std::max(trial, 1e-6)));
  double best = 1e30;
  for (int i = 0; i < 5; ++i) best = std::min(best, seconds_of(probe.run, rounds, threads));
  const double operations = double(rounds) * kChains * probe.operations_per_instruction * threads;
  return {operations / best / 1e9, probe.instruction};
}

}  // namespace dinet::bench
