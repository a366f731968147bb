#include "face_pose.h"

#include <cmath>

namespace dinet::face_detail {
namespace {

cv::Point2d centre_of(const FaceLandmarks& landmarks) {
  cv::Point2d c;
  for (int k : kRigidPoints) c += cv::Point2d(landmarks[k]);
  return c / double(kRigidPoints.size());
}

}  // namespace

RigidShape rigid_shape(const FaceLandmarks& landmarks) {
  const cv::Point2d c = centre_of(landmarks);
  RigidShape shape;
  double sum = 0;
  for (size_t i = 0; i < kRigidPoints.size(); ++i) {
    shape[i] = cv::Point2d(landmarks[kRigidPoints[i]]) - c;
    sum += shape[i].dot(shape[i]);
  }
  const double rms = std::sqrt(sum / kRigidPoints.size());
  for (auto& p : shape) p *= rms > 0 ? 1 / rms : 0;
  return shape;
}

Pose fit_pose(const FaceLandmarks& landmarks, const RigidShape& reference) {
  Pose pose;
  pose.center = centre_of(landmarks);
  // Least squares for p ~ [[a, -b], [b, a]] q with q of unit RMS (sum |q|^2 = n).
  double a = 0, b = 0, norm = 0;
  for (size_t i = 0; i < kRigidPoints.size(); ++i) {
    const cv::Point2d p = cv::Point2d(landmarks[kRigidPoints[i]]) - pose.center;
    const cv::Point2d& q = reference[i];
    a += q.dot(p);
    b += q.x * p.y - q.y * p.x;
    norm += q.dot(q);
  }
  if (norm <= 0) return pose;
  a /= norm, b /= norm;
  pose.scale = std::hypot(a, b);
  pose.angle = std::atan2(b, a);
  double misfit = 0;
  for (size_t i = 0; i < kRigidPoints.size(); ++i) {
    const cv::Point2d p = cv::Point2d(landmarks[kRigidPoints[i]]) - pose.center;
    const cv::Point2d& q = reference[i];
    const cv::Point2d d = p - cv::Point2d(a * q.x - b * q.y, b * q.x + a * q.y);
    misfit += d.dot(d);
  }
  pose.residual = pose.scale > 0 ? std::sqrt(misfit / kRigidPoints.size()) / pose.scale : 1e9;
  return pose;
}

double affine_residual(const FaceLandmarks& landmarks, const RigidShape& reference) {
  // With centred points the translation drops out: p ~ A q, A = (sum p q^T)(sum q q^T)^-1.
  const cv::Point2d centre = centre_of(landmarks);
  cv::Matx22d pq = cv::Matx22d::zeros(), qq = cv::Matx22d::zeros();
  std::array<cv::Point2d, kRigidPoints.size()> p;
  for (size_t i = 0; i < kRigidPoints.size(); ++i) {
    p[i] = cv::Point2d(landmarks[kRigidPoints[i]]) - centre;
    const cv::Point2d& q = reference[i];
    pq += cv::Matx22d(p[i].x * q.x, p[i].x * q.y, p[i].y * q.x, p[i].y * q.y);
    qq += cv::Matx22d(q.x * q.x, q.x * q.y, q.y * q.x, q.y * q.y);
  }
  const double det = cv::determinant(qq);
  if (std::abs(det) < 1e-12) return 1e9;
  const cv::Matx22d a = pq * qq.inv();
  double misfit = 0, size = 0;
  for (size_t i = 0; i < kRigidPoints.size(); ++i) {
    const cv::Point2d d = p[i] - a * reference[i];
    misfit += d.dot(d);
    size += p[i].dot(p[i]);
  }
  return size > 0 ? std::sqrt(misfit / size) : 1e9;
}

}  // namespace dinet::face_detail
