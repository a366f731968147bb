#include "dinet/face_geometry.h"

#include <algorithm>
#include <cmath>

namespace dinet {
namespace {

double distance(const cv::Point2f& a, const cv::Point2f& b) { return std::hypot(a.x - b.x, a.y - b.y); }

cv::Point2d centre(const FaceLandmarks& p, int first, int last) {
  cv::Point2d sum;
  for (int k = first; k <= last; ++k) sum += cv::Point2d(p[k]);
  return sum / double(last - first + 1);
}

}  // namespace

double inter_ocular_distance(const FaceLandmarks& p) { return cv::norm(centre(p, 36, 41) - centre(p, 42, 47)); }

double inner_lip_gap(const FaceLandmarks& p) {
  return (distance(p[61], p[67]) + distance(p[62], p[66]) + distance(p[63], p[65])) / 3;
}

double inner_lip_gap_iod(const FaceLandmarks& p) { return inner_lip_gap(p) / inter_ocular_distance(p); }

double mouth_width(const FaceLandmarks& p) { return distance(p[48], p[54]); }

double mouth_opening(const FaceLandmarks& p) { return inner_lip_gap(p) / std::max(1.0, mouth_width(p)); }

double face_width(const FaceLandmarks& p) { return distance(p[0], p[16]); }

double mouth_landmark_distance(const FaceLandmarks& a, const FaceLandmarks& b) {
  double sum = 0;
  for (int k = 48; k < 68; ++k) sum += distance(a[k], b[k]);
  return sum / 20;
}

}  // namespace dinet
