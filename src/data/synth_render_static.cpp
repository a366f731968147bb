// The parts of the synthetic face that do not move during a clip (skin, ears, neck, nose,
// brows, hair), painted once per clip onto the renderer's texture.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "synth_draw.h"
#include "synth_render.h"

namespace dinet::synth {
namespace {

// Blends a per-pixel colour image into `image` with weight mask * opacity.
void blend_image(cv::Mat& image, const cv::Mat& colour, const cv::Mat& mask, double opacity) {
  for (int y = 0; y < image.rows; ++y) {
    auto* p = image.ptr<cv::Vec3b>(y);
    const auto* c = colour.ptr<cv::Vec3b>(y);
    const float* m = mask.ptr<float>(y);
    for (int x = 0; x < image.cols; ++x) {
      const float a = m[x] * float(opacity);
      if (a <= 0) continue;
      for (int k = 0; k < 3; ++k) p[x][k] = cv::saturate_cast<uchar>(p[x][k] + a * (c[x][k] - p[x][k]));
    }
  }
}

// Skin: the base colour, darker towards the outline, lit from one side, with blotches and
// pores, so that no region of the face is flat.
cv::Mat skin_texture(cv::Size size, cv::Point2f origin, double w, const FaceIdentity& face, cv::RNG& rng) {
  cv::Mat blotches(7, 6, CV_32F), pores(size, CV_32F);
  rng.fill(blotches, cv::RNG::NORMAL, 0, 1);
  cv::resize(blotches, blotches, size, 0, 0, cv::INTER_CUBIC);
  rng.fill(pores, cv::RNG::NORMAL, 0, 1);
  cv::Mat out(size, CV_8UC3);
  for (int y = 0; y < size.height; ++y) {
    auto* p = out.ptr<cv::Vec3b>(y);
    const float* b = blotches.ptr<float>(y);
    const float* q = pores.ptr<float>(y);
    const double v = (y - origin.y) / w;
    for (int x = 0; x < size.width; ++x) {
      const double u = (x - origin.x) / w;
      const double edge = (u / 0.56) * (u / 0.56) + ((v - 0.3) / 0.85) * ((v - 0.3) / 0.85);
      const double k = (1 - 0.3 * std::clamp(edge - 0.4, 0.0, 1.0)) *
                       (1 + 0.12 * face.light * std::clamp(u / 0.5, -1.5, 1.5)) *
                       (1 + 0.035 * b[x] + 0.02 * q[x]);
      for (int c = 0; c < 3; ++c) p[x][c] = cv::saturate_cast<uchar>(face.skin[c] * k);
    }
  }
  return out;
}

// Hair colour with strands: noise stretched along the vertical, the way hair falls.
cv::Mat hair_texture(cv::Size size, const cv::Scalar& hair, cv::RNG& rng) {
  cv::Mat strands(std::max(2, size.height / 24), size.width, CV_32F), out(size, CV_8UC3);
  rng.fill(strands, cv::RNG::NORMAL, 0, 1);
  cv::resize(strands, strands, size, 0, 0, cv::INTER_LINEAR);
  for (int y = 0; y < size.height; ++y) {
    auto* p = out.ptr<cv::Vec3b>(y);
    const float* s = strands.ptr<float>(y);
    for (int x = 0; x < size.width; ++x)
      for (int c = 0; c < 3; ++c) p[x][c] = cv::saturate_cast<uchar>(hair[c] * (1 + 0.18 * s[x]) + 6 * s[x]);
  }
  return out;
}

}  // namespace

FaceRenderer::FaceRenderer(const FaceIdentity& face, double width_px, uint64_t seed)
    : face_(face), width_px_(width_px) {
  const double w = width_px;
  origin_ = {float(0.8 * w), float(0.95 * w)};
  const cv::Size size(int(std::ceil(1.6 * w)) + 1, int(std::ceil(2.4 * w)) + 1);
  cv::RNG rng(seed);
  texture_ = skin_texture(size, origin_, w, face, rng);
  static_alpha_ = cv::Mat::zeros(size, CV_8UC1);
  FaceLandmarks neutral = face_shape(face, {}, 1.0);
  for (auto& p : neutral) p = to_canvas(p);
  paint_ears_cheeks_neck();
  paint_nose(neutral);
  paint_brows(neutral);
  paint_hair(rng);
}

Polyline FaceRenderer::units(std::initializer_list<cv::Point2f> points) const {
  Polyline out;
  for (const auto& p : points) out.push_back(to_canvas(p));
  return out;
}

// Ears (half hidden by the cheeks), blushed cheeks, the neck.
void FaceRenderer::paint_ears_cheeks_neck() {
  const double w = width_px_;
  const cv::Scalar blush(face_.skin[0] * 0.85, face_.skin[1] * 0.8, std::min(255.0, face_.skin[2] * 1.05));
  const cv::Scalar dark = shade(face_.skin, 0.45);
  for (float side : {-1.0f, 1.0f}) {
    const Polyline ear = ellipse(to_canvas({0.52f * side, 0.12f}), cv::Size2f(0.06f * w, 0.12f * w));
    fill_polygon(static_alpha_, ear, cv::Scalar(255));
    blend_stroke(texture_, ellipse(to_canvas({0.525f * side, 0.13f}), cv::Size2f(0.03f * w, 0.08f * w)),
                 dark, 0.006 * w, 0.3);
    blend_soft(texture_, ellipse(to_canvas({0.26f * side, 0.33f}), cv::Size2f(0.09f * w, 0.055f * w)),
               blush, 0.35, 0.04 * w);
  }
  // The neck flares towards the shoulders; the collar (drawn over it) hides its end.
  fill_polygon(static_alpha_, units({{-0.27f, 0.35f}, {-0.3f, 0.85f}, {-0.4f, 1.1f}, {-0.42f, 1.45f},
                                     {0.42f, 1.45f}, {0.4f, 1.1f}, {0.3f, 0.85f}, {0.27f, 0.35f}}),
               cv::Scalar(255));
}

// The nose, from the landmarks of the neutral face: shadow on the side away from the
// light, nostrils, wings, the shadow under the tip, highlights.
void FaceRenderer::paint_nose(const FaceLandmarks& neutral) {
  const double w = width_px_;
  const float nl = float(face_.nose_length), nw = float(face_.nose_width);
  const float away = face_.light >= 0 ? -1.0f : 1.0f;
  blend_soft(texture_, units({{away * 0.012f, -0.02f}, {away * 0.045f, 0.05f}, {away * nw, nl - 0.05f},
                              {away * 0.01f, nl - 0.04f}}),
             shade(face_.skin, 0.6), 0.18 + 0.15 * std::abs(face_.light), 0.02 * w);
  blend_soft(texture_, ellipse(to_canvas({0, nl + 0.008f}), cv::Size2f(0.06f * w, 0.012f * w)),
             shade(face_.skin, 0.6), 0.25, 0.01 * w);
  for (float side : {-1.0f, 1.0f}) {
    blend_soft(texture_, ellipse(to_canvas({side * 0.48f * nw, nl - 0.017f}), cv::Size2f(0.021f * w, 0.01f * w)),
               shade(face_.skin, 0.3), 0.7, 0.004 * w);
    const int wing = side < 0 ? kNostrils : kNostrils + 4, inner = side < 0 ? kNostrils + 1 : kNostrils + 3;
    blend_stroke(texture_, spline({to_canvas({side * nw, nl - 0.07f}), to_canvas({side * 1.15f * nw, nl - 0.045f}),
                                   neutral[wing], neutral[inner]}, false),
                 shade(face_.skin, 0.5), 0.007 * w, 0.35);
  }
  blend_soft(texture_, ellipse(to_canvas({0, nl - 0.045f}), cv::Size2f(0.025f * w, 0.018f * w)),
             cv::Scalar(255, 255, 255), 0.12, 0.012 * w);
  blend_stroke(texture_, {neutral[kNoseRidge], neutral[kNoseRidge + 3]}, cv::Scalar(255, 255, 255), 0.01 * w, 0.08);
}

// Brows along their landmarks, thicker at the inner end.
void FaceRenderer::paint_brows(const FaceLandmarks& neutral) {
  const double w = width_px_;
  const cv::Scalar brow = face_.hair * 0.6 + cv::Scalar(20, 20, 20) * 0.4;
  for (int first : {kRightBrow, kLeftBrow}) {
    Polyline centre;
    for (int i = 0; i < 5; ++i) centre.push_back(neutral[first == kRightBrow ? first + i : first + 4 - i]);
    centre = spline(centre, false);
    Polyline upper, lower;
    for (size_t i = 0; i < centre.size(); ++i) {
      const cv::Point2f d = centre[std::min(i + 1, centre.size() - 1)] - centre[i ? i - 1 : 0];
      const cv::Point2f n = cv::Point2f(-d.y, d.x) * float(1.0 / std::max(1e-6, cv::norm(d)));
      const float half = float(0.5 * face_.brow_thickness * w * (0.55 + 0.45 * i / (centre.size() - 1)));
      upper.push_back(centre[i] - n * half);
      lower.push_back(centre[i] + n * half);
    }
    upper.insert(upper.end(), lower.rbegin(), lower.rend());
    blend_polygon(texture_, upper, brow, 0.75);
    blend_soft(texture_, upper, brow, 0.3, 0.008 * w);
  }
}

// A cap down to a hairline above the brows; long styles add locks beside the face
// (outside the jaw, in front of the ears); the shaved style is stubble over the skin.
void FaceRenderer::paint_hair(cv::RNG& rng) {
  const double w = width_px_;
  const float hairline = -float(face_.brow_height) - float(rng.uniform(0.13, 0.2));
  Polyline cap;
  for (int i = 0; i <= 24; ++i) {
    const double a = 3.14159265358979323846 * (1 + i / 24.0);
    cap.push_back(to_canvas({float(0.585 * std::cos(a)), float(-0.1 + 0.75 * std::sin(a))}));
  }
  for (const cv::Point2f p : {cv::Point2f{0.57f, 0.02f}, {0.5f, -0.05f}, {0.47f, hairline + 0.1f},
                              {0.3f, hairline + 0.01f}, {0.1f, hairline}, {-0.1f, hairline},
                              {-0.3f, hairline + 0.01f}, {-0.47f, hairline + 0.1f}, {-0.5f, -0.05f},
                              {-0.57f, 0.02f}})
    cap.push_back(to_canvas(p));
  cv::Mat hair_mask = cv::Mat::zeros(texture_.size(), CV_8UC1);
  fill_polygon(hair_mask, cap, cv::Scalar(255));
  if (face_.hair_style == 1)
    for (float s : {-1.0f, 1.0f})
      fill_polygon(hair_mask, units({{s * 0.585f, -0.1f}, {s * 0.64f, 0.3f}, {s * 0.62f, 0.85f}, {s * 0.4f, 0.95f},
                                     {s * 0.45f, 0.5f}, {s * 0.5f, 0.0f}}),
                   cv::Scalar(255));
  cv::max(static_alpha_, hair_mask, static_alpha_);
  cv::Mat soft;
  hair_mask.convertTo(soft, CV_32F, 1.0 / 255);
  cv::GaussianBlur(soft, soft, cv::Size(0, 0), std::max(0.6, 0.006 * w));
  blend_image(texture_, hair_texture(texture_.size(), face_.hair, rng), soft, face_.hair_style == 2 ? 0.35 : 0.97);
}

}  // namespace dinet::synth
