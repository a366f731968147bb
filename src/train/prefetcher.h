// Batches made by worker threads ahead of the training step, handed over in order through a
// bounded queue: at most `capacity` batches wait, so memory stays flat however slow the
// step is. The time the step spends blocked in next() is measured, to show that the
// network does not wait on loading.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace dinet::train {

template <class Batch>
class Prefetcher {
 public:
  // Makes batches 0 .. count-1 with `make(index)` on `workers` threads (at least 1).
  Prefetcher(int64_t count, int workers, int capacity, std::function<Batch(int64_t)> make)
      : count_(count), capacity_(std::max(1, capacity)), make_(std::move(make)), failed_(count) {
    for (int i = 0; i < std::max(1, workers); ++i) threads_.emplace_back([this] { work(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    for (auto& t : threads_) t.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The next batch in index order; nullopt after the last. Rethrows the exception of the
  // batch that failed when its turn comes (the batches before it are delivered first).
  std::optional<Batch> next() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    if (delivered_ >= count_) return std::nullopt;
    changed_.wait(lock, [&] { return delivered_ >= failed_ || ready_.count(delivered_); });
    wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (delivered_ >= failed_) std::rethrow_exception(error_);
    auto node = ready_.extract(delivered_++);
    lock.unlock();
    changed_.notify_all();  // a slot is free
    return std::move(node.mapped());
  }

  // Seconds next() has spent waiting for a batch so far.
  double wait_seconds() const {
    std::lock_guard lock(mutex_);
    return wait_seconds_;
  }

 private:
  void work() {
    while (true) {
      int64_t index;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || next_ >= failed_ || next_ < delivered_ + capacity_; });
        if (stop_ || next_ >= failed_) return;
        index = next_++;
      }
      try {
        Batch batch = make_(index);
        std::lock_guard lock(mutex_);
        ready_.emplace(index, std::move(batch));
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (index < failed_) {
          failed_ = index;
          error_ = std::current_exception();
        }
      }
      changed_.notify_all();
    }
  }

  const int64_t count_;
  const int capacity_;
  std::function<Batch(int64_t)> make_;
  int64_t failed_;  // the first batch that failed (count_ while none has)
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, Batch> ready_;
  int64_t next_ = 0, delivered_ = 0;
  double wait_seconds_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

}  // namespace dinet::train
