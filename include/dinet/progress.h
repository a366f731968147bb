// A one-line terminal progress bar: done/total, rate, ETA and free-form fields (losses).
// On a terminal it redraws in place; otherwise (CI, logs) it prints a line every few seconds.
// With DINET_PROGRESS_FILE set in the environment (by `dinet serve` for the jobs it runs), it
// also keeps that file holding one line, "<done> <total> <label>", rewritten a few times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace dinet {

class Progress {
 public:
  // `unit` names what is counted ("frames", "videos", "samples").
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();

  void advance(int64_t n = 1);           // thread-safe
  void set_fields(const std::string& s);  // shown after the rate, e.g. "loss 0.123"
  void finish();                          // final line with the total time

 private:
  void draw(bool final_line);
  void write_progress_file();

  std::string label_, unit_, fields_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_, last_file_write_;
  std::string progress_file_;
  bool tty_, finished_ = false;
  std::mutex mutex_;
};

}  // namespace dinet
