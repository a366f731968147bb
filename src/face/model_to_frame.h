// The affine map between a model-space face and its crop window in the frame, shared by the
// crop and the paste so both sample the same positions.
#pragma once

#include <opencv2/core.hpp>

#include <algorithm>

namespace dinet::face {

// Model pixel (u, v) -> frame pixel, pixel centres mapped onto pixel centres as cv::resize
// does, so that an integer window gives the same sampling positions as the published resize.
// `origin`: the frame pixel that is (0, 0) of the target (a region of interest).
inline cv::Matx23d model_to_frame(const cv::Rect2f& window, cv::Size model, cv::Point2f origin = {}) {
  const double sx = window.width / model.width, sy = window.height / model.height;
  return {sx, 0, window.x - origin.x + 0.5 * sx - 0.5, 0, sy, window.y - origin.y + 0.5 * sy - 0.5};
}

// 0 at distance 0, 1 at `width`, smoothstep between: no visible ramp boundary.
inline float smooth_ramp(float distance, float width) {
  const float t = std::min(std::max(distance / width, 0.f), 1.f);
  return t * t * (3 - 2 * t);
}

}  // namespace dinet::face
