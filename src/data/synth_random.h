// Random numbers for the synthetic data set whose sequence is fixed by the seed on every
// platform: std::mt19937_64 is specified bit for bit, the std:: distributions are not
// (libstdc++ and libc++ differ), so the few distributions needed are written out here.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace dinet::synth {

// SplitMix64: turns (seed, stream) into well-separated engine seeds, so clip k of a data
// set is the same whatever the thread count and whichever clips were skipped.
inline uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return static_cast<int>(uniform() * n); }  // [0, n)
  bool chance(double p) { return uniform() < p; }
  double normal() {  // Box-Muller; one value per call keeps the stream easy to reason about
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  uint64_t bits() { return engine_(); }
  // An independent generator for one part of a clip (voice, face, motion), so adding a
  // draw to one part does not change the others.
  Rng fork(uint64_t stream) { return Rng(mix_seed(engine_(), stream)); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace dinet::synth
