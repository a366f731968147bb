#include "dinet/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace dinet {
namespace {

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--:--";
  const int s = static_cast<int>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02d:%02d", s / 60, s % 60);
  return buf;
}

}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      start_(std::chrono::steady_clock::now()), last_draw_(start_), last_file_write_(start_),
      tty_(::isatty(2)) {
  if (const char* file = std::getenv("DINET_PROGRESS_FILE")) progress_file_ = file;
  if (!progress_file_.empty()) write_progress_file();
}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.2 : 10.0)) {
    last_draw_ = now;
    draw(false);
  }
  if (!progress_file_.empty() && now - last_file_write_ >= std::chrono::milliseconds(250)) {
    last_file_write_ = now;
    write_progress_file();
  }
}

// Written beside and renamed, so a reader never sees half a line.
void Progress::write_progress_file() {
  const std::string temp = progress_file_ + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << done_ << ' ' << total_ << ' ' << label_ << '\n';
    if (!out) return;  // progress is advisory; the work goes on
  }
  std::rename(temp.c_str(), progress_file_.c_str());
}

void Progress::set_fields(const std::string& s) {
  std::lock_guard<std::mutex> lock(mutex_);
  fields_ = s;
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  draw(true);
  if (!progress_file_.empty()) write_progress_file();
}

void Progress::draw(bool final_line) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  std::string bar;
  if (total_ > 0) {
    const int width = 24;
    const int filled = static_cast<int>(width * std::min<int64_t>(done_, total_) / total_);
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
  }
  // Slow work (a training step of seconds) reads better as seconds per item than as 0.0/s.
  char speed[64];
  if (rate > 0 && rate < 0.95)
    std::snprintf(speed, sizeof speed, "%.1f s/%s", 1.0 / rate, unit_.c_str());
  else
    std::snprintf(speed, sizeof speed, "%.1f %s/s", rate, unit_.c_str());
  char line[512];
  if (total_ > 0) {
    const double eta = rate > 0 ? (total_ - done_) / rate : -1;
    std::snprintf(line, sizeof line, "%s %s%lld/%lld %s, %s, %s %s", label_.c_str(),
                  bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_),
                  unit_.c_str(), speed, final_line ? "took" : "ETA",
                  format_duration(final_line ? elapsed : eta).c_str());
  } else {
    std::snprintf(line, sizeof line, "%s %lld %s, %s, %s", label_.c_str(),
                  static_cast<long long>(done_), unit_.c_str(), speed,
                  format_duration(elapsed).c_str());
  }
  std::string text = line;
  if (!fields_.empty()) text += "  " + fields_;
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s%s", text.c_str(), final_line ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace dinet
