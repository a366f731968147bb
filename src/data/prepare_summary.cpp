// The closing report of `dinet prepare`: what was done, skipped and failed (with reasons),
// the disk used by the outputs and the speed. "Already done" skips are only counted: a
// re-run over thousands of videos should print a few lines, not thousands. Outputs kept
// because dinet prepare did not write them (the user's OpenFace CSVs, features) are counted
// the same way.
#include <array>
#include <cstdio>
#include <map>

#include "dinet/prepare.h"

namespace dinet {
namespace {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 4) value /= 1000, ++unit;
  char buf[32];
  std::snprintf(buf, sizeof buf, unit ? "%.1f %s" : "%.0f %s", value, units[unit]);
  return buf;
}

std::string line_for(const StepOutcome& o) {
  std::string text = "  " + o.step;
  if (!o.video.empty()) text += " " + o.video;
  return text + ": " + o.reason + "\n";
}

}  // namespace

std::string format_summary(const PrepareSummary& s) {
  // step -> {done, already done, kept (the user's), other skips, failed}
  std::map<std::string, std::array<int, 5>> per_step;
  std::string failures, skips, notes;
  int rejected = 0;
  for (const auto& o : s.outcomes) {
    auto& counts = per_step[o.step];
    rejected += o.clips_rejected;
    switch (o.status) {
      case StepStatus::done:
        ++counts[0];
        if (!o.reason.empty()) notes += line_for(o);
        break;
      case StepStatus::skipped:
        if (o.reason == "already done") {
          ++counts[1];
        } else if (o.reason.rfind("kept ", 0) == 0) {
          ++counts[2];  // the user's own files: counted, not listed (often every video)
        } else {
          ++counts[3];
          skips += line_for(o);
        }
        break;
      case StepStatus::failed:
        ++counts[4];
        failures += line_for(o);
        break;
    }
  }
  std::string out = s.interrupted ? "prepare: INTERRUPTED (unfinished videos have no marker and "
                                    "are redone by the next run)\n"
                                  : "prepare: finished\n";
  for (const auto& [step, c] : per_step) {
    char line[256];
    std::snprintf(
        line, sizeof line,
        "  %-24s %4d done, %4d already done, %4d kept (not ours), %4d skipped, %4d failed\n",
        step.c_str(), c[0], c[1], c[2], c[3], c[4]);
    out += line;
  }
  if (rejected)
    out += "  " + std::to_string(rejected) +
           " clips left out because the face size changed more than 1.5x within the clip\n";
  if (!notes.empty()) out += "notes:\n" + notes;
  if (!skips.empty()) out += "skipped:\n" + skips;
  const auto failed = s.failed_videos();
  if (!failures.empty())
    out += "FAILED (" + std::to_string(failed.size()) + " videos):\n" + failures;
  if (!s.disk_usage.empty()) {
    out += "disk used:\n";
    for (const auto& [path, bytes] : s.disk_usage)
      out += "  " + human_bytes(bytes) + "\t" + path.string() + "\n";
    out += "  " + human_bytes(s.disk_bytes()) + "\ttotal\n";
  }
  char timing[128];
  std::snprintf(timing, sizeof timing, "%lld frames in %.1f s (%.0f frames/s)\n",
                static_cast<long long>(s.frames), s.seconds,
                s.seconds > 0 ? s.frames / s.seconds : 0.0);
  return out + timing;
}

}  // namespace dinet
