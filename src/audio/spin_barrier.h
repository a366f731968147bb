// A barrier whose threads spin instead of sleeping: the split LSTM recurrence meets at one
// after every step, a fraction of a millisecond apart, where a futex wake-up would cost a
// good part of the step. After a while of spinning a waiter yields its core, so a thread
// that the OS has descheduled (a busy machine) still gets to arrive.
#pragma once

#include <atomic>
#include <thread>

namespace dinet::audio {

class SpinBarrier {
 public:
  explicit SpinBarrier(int parties) : parties_(parties) {}

  // Returns once all `parties` threads have called it; what each wrote before is visible to
  // all after. Reusable: the last to arrive opens the next generation.
  void arrive_and_wait() {
    const unsigned generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == parties_) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.store(generation + 1, std::memory_order_release);
      return;
    }
    for (int spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins) {
      if (spins >= kSpinsBeforeYield) std::this_thread::yield();
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
  }

 private:
  static constexpr int kSpinsBeforeYield = 4096;  // tens of microseconds of pause
  const int parties_;
  std::atomic<int> arrived_{0};
  std::atomic<unsigned> generation_{0};
};

}  // namespace dinet::audio
