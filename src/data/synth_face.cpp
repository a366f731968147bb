#include "synth_face.h"

#include <algorithm>
#include <cmath>

namespace dinet::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;

cv::Scalar mix(const cv::Scalar& a, const cv::Scalar& b, double t) { return a * (1 - t) + b * t; }

cv::Scalar jitter(const cv::Scalar& c, double amount, Rng& rng) {
  cv::Scalar out;
  for (int k = 0; k < 3; ++k) out[k] = std::clamp(c[k] + amount * rng.normal(), 0.0, 255.0);
  return out;
}

cv::Point2f point(double x, double y) { return {float(x), float(y)}; }
cv::Point2f mirror(const cv::Point2f& p) { return {-p.x, p.y}; }

}  // namespace

FaceIdentity random_identity(Rng& rng) {
  FaceIdentity f;
  f.jaw_top = rng.uniform(-0.03, 0.03);
  f.jaw_squareness = rng.uniform(2.1, 3.0);
  f.eye_gap = rng.uniform(0.10, 0.125);
  f.eye_width = rng.uniform(0.18, 0.23);
  f.eye_height = rng.uniform(0.055, 0.075);
  f.brow_height = rng.uniform(0.15, 0.205);
  f.brow_arch = rng.uniform(0.035, 0.055);
  f.brow_thickness = rng.uniform(0.02, 0.04);
  f.nose_length = rng.uniform(0.25, 0.31);
  f.nose_width = rng.uniform(0.08, 0.105);
  // Below the nose by a philtrum's length, above the chin by a jaw's: the lips never
  // touch the nose and the open mouth never reaches the chin.
  f.mouth_y = f.nose_length + rng.uniform(0.15, 0.19);
  f.chin = f.mouth_y + rng.uniform(0.28, 0.34);
  f.mouth_half_width = rng.uniform(0.16, 0.20);
  f.upper_lip = rng.uniform(0.028, 0.045);
  f.lower_lip = rng.uniform(0.04, 0.06);
  f.max_gap = rng.uniform(0.12, 0.16);
  f.hair_style = rng.below(3);

  // Skin from fair to dark, lips a darker, redder version of the skin.
  const cv::Scalar fair(190, 205, 238), dark(50, 75, 115);
  f.skin = jitter(mix(fair, dark, rng.uniform()), 6, rng);
  f.lips = jitter(cv::Scalar(f.skin[0] * 0.68, f.skin[1] * 0.58, std::min(255.0, f.skin[2] * 0.92 + 10)),
                  8, rng);
  const cv::Scalar hair_colours[] = {{25, 25, 30},   {30, 45, 70},   {45, 75, 120},
                                     {110, 170, 210}, {40, 75, 160}, {150, 150, 155}};
  f.hair = jitter(hair_colours[rng.below(6)], 8, rng);
  const cv::Scalar iris_colours[] = {{30, 60, 100}, {150, 110, 60}, {90, 120, 70}, {25, 35, 50}};
  f.iris = jitter(iris_colours[rng.below(4)], 10, rng);
  f.clothes = cv::Scalar(rng.uniform(20, 230), rng.uniform(20, 230), rng.uniform(20, 230));
  f.light = rng.uniform(-1, 1);
  return f;
}

FaceLandmarks face_shape(const FaceIdentity& f, const MouthShape& mouth, double eyes_open) {
  FaceLandmarks p{};
  const double open = std::clamp<double>(mouth.open, 0, 1);
  const double spread = std::clamp<double>(mouth.spread, -1, 1);
  const double rounded = std::max(0.0, -spread), wide = std::max(0.0, spread);
  const double gap = open * f.max_gap;

  // Jaw: a superellipse from ear to ear, its 17 points equally spaced along the contour as
  // detectors place them. The mandible carries the lower lip, so the chin drops as far as
  // the lower lip does (70% of the gap) and the jaw angles hardly move.
  const double e = 2.0 / f.jaw_squareness;
  auto jaw = [&](double phi) {
    const double c = std::cos(phi), s = std::sin(phi);
    return cv::Point2d(-0.5 * std::copysign(std::pow(std::abs(c), e), c),
                       f.jaw_top + (f.chin - f.jaw_top) * std::pow(s, e));
  };
  constexpr int kSteps = 256;
  double length[kSteps + 1] = {0};
  for (int i = 1; i <= kSteps; ++i)
    length[i] = length[i - 1] + cv::norm(jaw(kPi * i / kSteps) - jaw(kPi * (i - 1) / kSteps));
  for (int k = 0, i = 0; k < 17; ++k) {
    const double target = length[kSteps] * k / 16;
    while (i < kSteps - 1 && length[i + 1] < target) ++i;
    const double t = std::clamp((target - length[i]) / (length[i + 1] - length[i]), 0.0, 1.0);
    const double phi = kPi * (i + t) / kSteps, s = std::sin(phi);
    const cv::Point2d q = jaw(phi);
    p[kJaw + k] = point(q.x, q.y + 0.7 * gap * s * s);
  }

  // Brows: from the outer end (17) to the inner end (21), arched, the ends lower.
  const double brow_out = -(f.eye_gap + f.eye_width + 0.055), brow_in = -(f.eye_gap - 0.04);
  for (int i = 0; i < 5; ++i) {
    const double u = i / 4.0, arch = 4 * u * (1 - u);
    p[kRightBrow + i] = point(brow_out + (brow_in - brow_out) * u,
                              -f.brow_height + f.brow_arch * (1 - arch) + 0.015 * (1 - u));
    p[kLeftBrow + 4 - i] = mirror(p[kRightBrow + i]);
  }

  // Nose: the ridge from between the eyes down to above the tip, then the base of the nose
  // from the right wing (31) through the tip (33) to the left (35), a little below the
  // drawn nostrils, where dlib's 68-point model puts them on these faces.
  const double ridge_end = f.nose_length - 0.08;
  for (int i = 0; i < 4; ++i) p[kNoseRidge + i] = point(0, -0.03 + (ridge_end + 0.03) * i / 3.0);
  p[kNostrils + 0] = point(-f.nose_width, f.nose_length - 0.005);
  p[kNostrils + 1] = point(-0.5 * f.nose_width, f.nose_length + 0.01);
  p[kNostrils + 2] = point(0, f.nose_length + 0.02);
  p[kNostrils + 3] = mirror(p[kNostrils + 1]);
  p[kNostrils + 4] = mirror(p[kNostrils + 0]);

  // Eyes: corners, upper lid at a third and two thirds, lower lid likewise; a blink brings
  // the upper lid down onto the lower one. The left eye mirrors the right in iBUG order.
  const double outer = -(f.eye_gap + f.eye_width), inner = -f.eye_gap;
  const double outer_y = -0.006;  // a slight upward tilt of the outer corner
  auto lid = [&](double u, bool upper) {
    const double base = outer_y * (1 - u);
    const double bulge = std::pow(std::sin(kPi * u), 0.8);
    const double lower = base + 0.4 * f.eye_height * bulge;
    if (!upper) return point(outer + (inner - outer) * u, lower);
    const double top = base - 0.6 * f.eye_height * bulge;
    return point(outer + (inner - outer) * u, lower + (top - lower) * std::clamp(eyes_open, 0.0, 1.0));
  };
  p[kRightEye + 0] = point(outer, outer_y);
  p[kRightEye + 1] = lid(1 / 3.0, true);
  p[kRightEye + 2] = lid(2 / 3.0, true);
  p[kRightEye + 3] = point(inner, 0);
  p[kRightEye + 4] = lid(2 / 3.0, false);
  p[kRightEye + 5] = lid(1 / 3.0, false);
  const int mirrored_eye[6] = {3, 2, 1, 0, 5, 4};
  for (int i = 0; i < 6; ++i) p[kLeftEye + i] = mirror(p[kRightEye + mirrored_eye[i]]);

  // Lips. Spreading widens the mouth and thins the lips; rounding narrows it, pushes the
  // lips out (they look thicker) and makes the opening round. The upper inner lip rises by
  // 30% of the gap and the lower one drops by 70%, so |62 - 66| is exactly the gap.
  const double hw = f.mouth_half_width * (1 + 0.14 * spread - 0.06 * open);
  const double hw_in = hw * (0.86 - 0.2 * rounded);
  const double t_up = f.upper_lip * (1 + 0.35 * rounded - 0.2 * wide);
  const double t_lo = f.lower_lip * (1 + 0.3 * rounded - 0.2 * wide);
  const double corner_y = f.mouth_y + 0.1 * gap;
  auto centre = [&](double x) { return corner_y + 0.006 * (1 - (x / hw) * (x / hw)); };
  auto opening = [&](double x) { return std::sqrt(std::max(0.0, 1 - (x / hw_in) * (x / hw_in))); };
  auto upper_inner = [&](double x) { return point(x, centre(x) - 0.3 * gap * opening(x)); };
  auto lower_inner = [&](double x) { return point(x, centre(x) + 0.7 * gap * opening(x)); };
  auto above = [&](cv::Point2f q, double t) { return point(q.x, q.y - t); };
  auto below = [&](cv::Point2f q, double t) { return point(q.x, q.y + t); };

  p[kOuterLips + 0] = point(-hw, corner_y);
  p[kOuterLips + 1] = above(upper_inner(-0.62 * hw), 0.72 * t_up);
  p[kOuterLips + 2] = above(upper_inner(-0.28 * hw), 1.00 * t_up);
  p[kOuterLips + 3] = above(upper_inner(0), 0.85 * t_up);  // the dip of the cupid's bow
  p[kOuterLips + 4] = above(upper_inner(0.28 * hw), 1.00 * t_up);
  p[kOuterLips + 5] = above(upper_inner(0.62 * hw), 0.72 * t_up);
  p[kOuterLips + 6] = point(hw, corner_y);
  p[kOuterLips + 7] = below(lower_inner(0.62 * hw), 0.72 * t_lo);
  p[kOuterLips + 8] = below(lower_inner(0.28 * hw), 0.96 * t_lo);
  p[kOuterLips + 9] = below(lower_inner(0), 1.00 * t_lo);
  p[kOuterLips + 10] = below(lower_inner(-0.28 * hw), 0.96 * t_lo);
  p[kOuterLips + 11] = below(lower_inner(-0.62 * hw), 0.72 * t_lo);
  p[kInnerLips + 0] = point(-hw_in, centre(-hw_in));
  p[kInnerLips + 1] = upper_inner(-0.35 * hw_in);
  p[kInnerLips + 2] = upper_inner(0);
  p[kInnerLips + 3] = upper_inner(0.35 * hw_in);
  p[kInnerLips + 4] = point(hw_in, centre(hw_in));
  p[kInnerLips + 5] = lower_inner(0.35 * hw_in);
  p[kInnerLips + 6] = lower_inner(0);
  p[kInnerLips + 7] = lower_inner(-0.35 * hw_in);
  return p;
}

}  // namespace dinet::synth
