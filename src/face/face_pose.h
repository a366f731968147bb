// The rigid part of a face: where the head is, how large and how rolled, from the points
// that do not move when a person speaks (nose ridge and base, eye corners).
#pragma once

#include <opencv2/core.hpp>

#include <array>

#include "dinet/landmarks.h"

namespace dinet::face_detail {

inline constexpr std::array<int, 13> kRigidPoints = {27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45};

// The rigid points centred and scaled to unit RMS distance from their centre.
using RigidShape = std::array<cv::Point2d, kRigidPoints.size()>;

struct Pose {
  cv::Point2d center;  // mean of the rigid points
  double scale = 0;    // RMS distance of the rigid points from their centre, in pixels
  double angle = 0;    // radians, relative to the reference shape
  double residual = 0;  // RMS misfit of the rigid points to the reference, in units of scale
};

RigidShape rigid_shape(const FaceLandmarks& landmarks);
// The similarity that best maps `reference` onto the landmarks' rigid points.
Pose fit_pose(const FaceLandmarks& landmarks, const RigidShape& reference);
// RMS misfit (in units of the rigid scale) of the best affine map of `reference` onto the
// landmarks' rigid points. Unlike the similarity's, it stays small when the head turns (an
// affine map foreshortens), so it measures whether the points still form that face.
double affine_residual(const FaceLandmarks& landmarks, const RigidShape& reference);

}  // namespace dinet::face_detail
