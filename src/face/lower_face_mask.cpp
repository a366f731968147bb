// The lower-face mask: the part of a frame that a dub may change.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "dinet/crop.h"
#include "dinet/face_geometry.h"
#include "face/model_to_frame.h"

namespace dinet {

FrameMask lower_face_mask(const FaceLandmarks& p, cv::Size frame_size, double feather) {
  const double edge = std::max(1.0, feather * face_width(p));  // soft edge in pixels
  cv::Point2d down = cv::Point2d(p[8] - p[27]);
  down *= 1.0 / std::max(1e-6, cv::norm(down));
  std::vector<cv::Point2d> polygon;
  for (int k = 2; k <= 14; ++k) polygon.emplace_back(p[k]);
  // A pixel more than half the soft edge, so the nose's own points stay exactly untouched.
  for (int k = 35; k >= 31; --k) polygon.push_back(cv::Point2d(p[k]) + down * (edge / 2 + 1));

  double x0 = polygon[0].x, x1 = x0, y0 = polygon[0].y, y1 = y0;
  for (const cv::Point2d& q : polygon) {
    x0 = std::min(x0, q.x), x1 = std::max(x1, q.x), y0 = std::min(y0, q.y), y1 = std::max(y1, q.y);
  }
  const double margin = edge / 2 + 2;
  const cv::Rect bounds(cv::Point(int(std::floor(x0 - margin)), int(std::floor(y0 - margin))),
                        cv::Point(int(std::ceil(x1 + margin)), int(std::ceil(y1 + margin))));
  FrameMask mask;
  mask.roi = bounds & cv::Rect(0, 0, frame_size.width, frame_size.height);
  if (mask.roi.empty()) return mask;

  // Rasterised with 4 fractional bits, then signed distances to its edge (both sides) give
  // an edge that is smooth whatever the polygon's corners.
  constexpr int kShift = 4;
  std::vector<cv::Point> vertices;
  for (const cv::Point2d& q : polygon)
    vertices.emplace_back(cvRound((q.x - mask.roi.x) * (1 << kShift)), cvRound((q.y - mask.roi.y) * (1 << kShift)));
  cv::Mat inside = cv::Mat::zeros(mask.roi.size(), CV_8U);
  cv::fillPoly(inside, std::vector<std::vector<cv::Point>>{vertices}, cv::Scalar(255), cv::LINE_8, kShift);
  cv::Mat to_outside, to_inside;
  cv::distanceTransform(inside, to_outside, cv::DIST_L2, cv::DIST_MASK_PRECISE);
  cv::distanceTransform(~inside, to_inside, cv::DIST_L2, cv::DIST_MASK_PRECISE);
  mask.alpha.create(mask.roi.size(), CV_32F);
  const float half = float(edge / 2), width = float(edge);
  for (int y = 0; y < mask.roi.height; ++y) {
    const float* out = to_outside.ptr<float>(y);
    const float* in = to_inside.ptr<float>(y);
    float* a = mask.alpha.ptr<float>(y);
    for (int x = 0; x < mask.roi.width; ++x) {
      // Half a pixel puts the edge between the last pixel in and the first out.
      const float signed_distance = out[x] > 0 ? out[x] - 0.5f : 0.5f - in[x];
      a[x] = face::smooth_ramp(signed_distance + half, width);
    }
  }
  return mask;
}

}  // namespace dinet
