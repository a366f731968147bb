// Pieces of the self-contained HTML reports (evaluation, self-reconstruction).
#include "eval/html.h"

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace dinet::eval {

nlohmann::json number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

std::string fixed(double x, int digits) {
  if (!std::isfinite(x)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

std::string base64(const std::vector<uchar>& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += table[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    const uint32_t v = bytes[i] << 16 | (i + 1 < bytes.size() ? bytes[i + 1] << 8 : 0);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

std::string jpeg_data_url(const cv::Mat& bgr, int quality) {
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, quality});
  return "data:image/jpeg;base64," + base64(jpeg);
}

// A line chart of one series; gaps (NaN) break the line. `last_x` labels the right end.
std::string svg_curve(const std::string& title, const std::vector<double>& values, std::string last_x) {
  if (last_x.empty()) last_x = "frame " + std::to_string(values.size() - 1);
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) return "";
  if (hi - lo < 1e-9) hi = lo + 1;
  const double w = 560, h = 140, pad = 30;
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h + 20
      << "' class='curve'><text x='4' y='14'>" << html_escape(title) << "</text>"
      << "<text x='4' y='" << pad + 4 << "' class='axis'>" << fixed(hi, 2) << "</text>"
      << "<text x='4' y='" << h + 4 << "' class='axis'>" << fixed(lo, 2) << "</text>"
      << "<text x='" << w - 80 << "' y='" << h + 16 << "' class='axis'>" << html_escape(last_x)
      << "</text><path d='";
  bool pen_up = true;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      pen_up = true;
      continue;
    }
    const double x = 50 + (w - 60) * (values.size() > 1 ? double(i) / (values.size() - 1) : 0.5);
    const double y = pad + (h - pad) * (1 - (values[i] - lo) / (hi - lo));
    svg << (pen_up ? "M" : "L") << fixed(x, 1) << " " << fixed(y, 1) << " ";
    pen_up = false;
  }
  svg << "' fill='none' stroke='#2a6fdb' stroke-width='1.5'/></svg>";
  return svg.str();
}

}  // namespace dinet::eval
