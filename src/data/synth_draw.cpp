#include "synth_draw.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace dinet::synth {
namespace {

// fillPoly / polylines take fixed-point coordinates: 4 fractional bits = 1/16 pixel.
constexpr int kShift = 4;

std::vector<cv::Point> fixed_point(const Polyline& points, cv::Point2f offset) {
  std::vector<cv::Point> out;
  out.reserve(points.size());
  for (const auto& p : points)
    out.emplace_back(int(std::lround((p.x - offset.x) * (1 << kShift))),
                     int(std::lround((p.y - offset.y) * (1 << kShift))));
  return out;
}

}  // namespace

Polyline spline(const Polyline& points, bool closed, int per_span) {
  const int n = static_cast<int>(points.size());
  if (n < 3) return points;
  auto at = [&](int i) { return closed ? points[(i % n + n) % n] : points[std::clamp(i, 0, n - 1)]; };
  Polyline out;
  const int spans = closed ? n : n - 1;
  out.reserve(spans * per_span + 1);
  for (int s = 0; s < spans; ++s) {
    const cv::Point2f p0 = at(s - 1), p1 = at(s), p2 = at(s + 1), p3 = at(s + 2);
    for (int j = 0; j < per_span; ++j) {
      const float t = float(j) / per_span, t2 = t * t, t3 = t2 * t;
      out.push_back(0.5f * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 +
                            (3 * p1 - p0 - 3 * p2 + p3) * t3));
    }
  }
  if (!closed) out.push_back(points.back());
  return out;
}

cv::Rect bounds(const Polyline& points, const cv::Size& image, double pad) {
  if (points.empty()) return {};
  float x0 = points[0].x, x1 = x0, y0 = points[0].y, y1 = y0;
  for (const auto& p : points) {
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  const int left = int(std::floor(x0 - pad)), top = int(std::floor(y0 - pad));
  const cv::Rect box(left, top, int(std::ceil(x1 + pad)) - left + 1, int(std::ceil(y1 + pad)) - top + 1);
  return box & cv::Rect(0, 0, image.width, image.height);
}

cv::Mat polygon_mask(const Polyline& polygon, const cv::Rect& roi) {
  cv::Mat mask = cv::Mat::zeros(roi.size(), CV_8UC1);
  const std::vector<std::vector<cv::Point>> contours{fixed_point(polygon, roi.tl())};
  cv::fillPoly(mask, contours, cv::Scalar(255), cv::LINE_AA, kShift);
  return mask;
}

void blend_mask(cv::Mat& image, const cv::Rect& roi, const cv::Mat& mask, const cv::Scalar& colour,
                double opacity) {
  const float weight = float(opacity / 255.0);
  const float c[3] = {float(colour[0]), float(colour[1]), float(colour[2])};
  for (int r = 0; r < roi.height; ++r) {
    const uchar* m = mask.ptr<uchar>(r);
    auto* p = image.ptr<cv::Vec3b>(roi.y + r) + roi.x;
    for (int x = 0; x < roi.width; ++x) {
      if (!m[x]) continue;
      const float a = m[x] * weight;
      for (int k = 0; k < 3; ++k) p[x][k] = cv::saturate_cast<uchar>(p[x][k] + a * (c[k] - p[x][k]));
    }
  }
}

void fill_polygon(cv::Mat& image, const Polyline& polygon, const cv::Scalar& colour) {
  const std::vector<std::vector<cv::Point>> contours{fixed_point(polygon, {0, 0})};
  cv::fillPoly(image, contours, colour, cv::LINE_AA, kShift);
}

void blend_polygon(cv::Mat& image, const Polyline& polygon, const cv::Scalar& colour, double opacity) {
  const cv::Rect roi = bounds(polygon, image.size(), 2);
  if (roi.empty()) return;
  blend_mask(image, roi, polygon_mask(polygon, roi), colour, opacity);
}

void blend_stroke(cv::Mat& image, const Polyline& line, const cv::Scalar& colour, double thickness,
                  double opacity) {
  const cv::Rect roi = bounds(line, image.size(), thickness + 2);
  if (roi.empty()) return;
  cv::Mat mask = cv::Mat::zeros(roi.size(), CV_8UC1);
  const std::vector<std::vector<cv::Point>> lines{fixed_point(line, roi.tl())};
  cv::polylines(mask, lines, false, cv::Scalar(255), std::max(1, int(std::lround(thickness))),
                cv::LINE_AA, kShift);
  blend_mask(image, roi, mask, colour, opacity);
}

void blend_soft(cv::Mat& image, const Polyline& polygon, const cv::Scalar& colour, double opacity,
                double softness) {
  const cv::Rect roi = bounds(polygon, image.size(), 3 * softness + 2);
  if (roi.empty()) return;
  cv::Mat mask = polygon_mask(polygon, roi);
  cv::GaussianBlur(mask, mask, cv::Size(0, 0), std::max(0.5, softness));
  blend_mask(image, roi, mask, colour, opacity);
}

Polyline ellipse(cv::Point2f centre, cv::Size2f half_axes, int count) {
  Polyline out(count);
  for (int i = 0; i < count; ++i) {
    const double a = 2 * 3.14159265358979323846 * i / count;
    out[i] = centre + cv::Point2f(float(half_axes.width * std::cos(a)), float(half_axes.height * std::sin(a)));
  }
  return out;
}

}  // namespace dinet::synth
