#include "synth_render.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "synth_draw.h"

namespace dinet::synth {
namespace {

cv::Scalar shade(const cv::Scalar& c, double k) { return {c[0] * k, c[1] * k, c[2] * k}; }

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
  auto units = [&](std::initializer_list<cv::Point2f> points) {
    Polyline out;
    for (const auto& p : points) out.push_back(to_canvas(p));
    return out;
  };
  texture_ = skin_texture(size, origin_, w, face, rng);
  static_alpha_ = cv::Mat::zeros(size, CV_8UC1);
  const cv::Scalar blush(face.skin[0] * 0.85, face.skin[1] * 0.8, std::min(255.0, face.skin[2] * 1.05));
  const cv::Scalar dark = shade(face.skin, 0.45);

  // Ears (half hidden by the cheeks) and blush.
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

  // Nose, from the landmarks of the neutral face: shadow on the side away from the light,
  // nostrils, wings, the shadow under the tip, highlights.
  FaceLandmarks neutral = face_shape(face, {}, 1.0);
  for (auto& p : neutral) p = to_canvas(p);
  const float nl = float(face.nose_length), nw = float(face.nose_width);
  const float away = face.light >= 0 ? -1.0f : 1.0f;
  blend_soft(texture_, units({{away * 0.012f, -0.02f}, {away * 0.045f, 0.05f}, {away * nw, nl - 0.05f},
                              {away * 0.01f, nl - 0.04f}}),
             shade(face.skin, 0.6), 0.18 + 0.15 * std::abs(face.light), 0.02 * w);
  blend_soft(texture_, ellipse(to_canvas({0, nl + 0.02f}), cv::Size2f(0.06f * w, 0.012f * w)),
             shade(face.skin, 0.6), 0.25, 0.01 * w);
  for (float side : {-1.0f, 1.0f}) {
    blend_soft(texture_, ellipse(to_canvas({side * 0.48f * nw, nl - 0.017f}), cv::Size2f(0.021f * w, 0.01f * w)),
               shade(face.skin, 0.3), 0.7, 0.004 * w);
    const int wing = side < 0 ? kNostrils : kNostrils + 4, inner = side < 0 ? kNostrils + 1 : kNostrils + 3;
    blend_stroke(texture_, spline({to_canvas({side * nw, nl - 0.07f}), to_canvas({side * 1.15f * nw, nl - 0.045f}),
                                   neutral[wing], neutral[inner]}, false),
                 shade(face.skin, 0.5), 0.007 * w, 0.35);
  }
  blend_soft(texture_, ellipse(to_canvas({0, nl - 0.045f}), cv::Size2f(0.025f * w, 0.018f * w)),
             cv::Scalar(255, 255, 255), 0.12, 0.012 * w);
  blend_stroke(texture_, {neutral[kNoseRidge], neutral[kNoseRidge + 3]}, cv::Scalar(255, 255, 255), 0.01 * w, 0.08);

  // Brows along their landmarks, thicker at the inner end.
  const cv::Scalar brow = face.hair * 0.6 + cv::Scalar(20, 20, 20) * 0.4;
  for (int first : {kRightBrow, kLeftBrow}) {
    Polyline centre;
    for (int i = 0; i < 5; ++i) centre.push_back(neutral[first == kRightBrow ? first + i : first + 4 - i]);
    centre = spline(centre, false);
    Polyline upper, lower;
    for (size_t i = 0; i < centre.size(); ++i) {
      const cv::Point2f d = centre[std::min(i + 1, centre.size() - 1)] - centre[i ? i - 1 : 0];
      const cv::Point2f n = cv::Point2f(-d.y, d.x) * float(1.0 / std::max(1e-6, cv::norm(d)));
      const float half = float(0.5 * face.brow_thickness * w * (0.55 + 0.45 * i / (centre.size() - 1)));
      upper.push_back(centre[i] - n * half);
      lower.push_back(centre[i] + n * half);
    }
    upper.insert(upper.end(), lower.rbegin(), lower.rend());
    blend_polygon(texture_, upper, brow, 0.75);
    blend_soft(texture_, upper, brow, 0.3, 0.008 * w);
  }

  // Hair: a cap down to a hairline above the brows, long styles with locks beside the face
  // (outside the jaw, in front of the ears), the shaved style as stubble over the skin.
  const float hairline = -float(face.brow_height) - float(rng.uniform(0.13, 0.2));
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
  cv::Mat hair_mask = cv::Mat::zeros(size, CV_8UC1);
  fill_polygon(hair_mask, cap, cv::Scalar(255));
  if (face.hair_style == 1)
    for (float s : {-1.0f, 1.0f})
      fill_polygon(hair_mask, units({{s * 0.585f, -0.1f}, {s * 0.64f, 0.3f}, {s * 0.62f, 0.85f}, {s * 0.4f, 0.95f},
                                     {s * 0.45f, 0.5f}, {s * 0.5f, 0.0f}}),
                   cv::Scalar(255));
  cv::max(static_alpha_, hair_mask, static_alpha_);
  cv::Mat soft;
  hair_mask.convertTo(soft, CV_32F, 1.0 / 255);
  cv::GaussianBlur(soft, soft, cv::Size(0, 0), std::max(0.6, 0.006 * w));
  blend_image(texture_, hair_texture(size, face.hair, rng), soft, face.hair_style == 2 ? 0.35 : 0.97);
}

void FaceRenderer::draw(const FaceLandmarks& shape, cv::Point2f gaze) {
  const double w = width_px_;
  FaceLandmarks px;
  for (int i = 0; i < 68; ++i) px[i] = to_canvas(shape[i]);
  texture_.copyTo(canvas_);
  static_alpha_.copyTo(alpha_);

  // The jaw casts a soft shadow on the neck; the face outline (jaw and forehead) joins the
  // silhouette. Both follow the jaw as the mouth opens.
  Polyline under(px.begin() + 2, px.begin() + 15);
  under.push_back(to_canvas({0.34f, 1.45f}));
  under.push_back(to_canvas({-0.34f, 1.45f}));
  blend_soft(canvas_, under, shade(face_.skin, 0.45), 0.45, 0.012 * w);
  Polyline outline(px.begin(), px.begin() + 17);
  for (const cv::Point2f p : {cv::Point2f{0.49f, -0.3f}, {0.4f, -0.5f}, {0.2f, -0.6f}, {0.0f, -0.63f},
                              {-0.2f, -0.6f}, {-0.4f, -0.5f}, {-0.49f, -0.3f}})
    outline.push_back(to_canvas(p));
  fill_polygon(alpha_, outline, cv::Scalar(255));

  draw_eye(px, kRightEye, gaze);
  draw_eye(px, kLeftEye, gaze);
  draw_mouth(px);
}

void FaceRenderer::draw_eye(const FaceLandmarks& px, int first, cv::Point2f gaze) {
  const double w = width_px_;
  const Polyline corners(px.begin() + first, px.begin() + first + 6);
  const Polyline eye = spline(corners, true, 5);
  const cv::Point2f a = px[first], b = px[first + 3];
  const double eye_width = cv::norm(b - a);
  const cv::Rect roi = bounds(eye, canvas_.size(), 2);
  const double height = std::max(cv::norm(px[first + 1] - px[first + 5]), cv::norm(px[first + 2] - px[first + 4]));
  if (height > 0.5 && !roi.empty()) {
    const cv::Mat inside = polygon_mask(eye, roi);
    blend_mask(canvas_, roi, inside, face_.skin * 0.15 + cv::Scalar(222, 228, 232) * 0.85, 0.95);
    const cv::Point2f centre = (a + b) * 0.5f + cv::Point2f(gaze.x * 0.18f, gaze.y * 0.06f) * float(eye_width);
    const float r = float(0.2 * eye_width);
    auto disc = [&](cv::Point2f c, float radius, const cv::Scalar& colour, double opacity) {
      cv::Mat m = polygon_mask(ellipse(c, cv::Size2f(radius, radius)), roi);
      cv::min(m, inside, m);
      blend_mask(canvas_, roi, m, colour, opacity);
    };
    disc(centre, r, face_.iris, 1.0);
    disc(centre, 0.42f * r, cv::Scalar(15, 15, 15), 1.0);
    disc(centre + cv::Point2f(0.35f, -0.35f) * r, 0.16f * r, cv::Scalar(255, 255, 255), 0.8);
  }
  const Polyline upper = spline({px[first], px[first + 1], px[first + 2], px[first + 3]}, false);
  const Polyline lower = spline({px[first + 3], px[first + 4], px[first + 5], px[first]}, false);
  blend_stroke(canvas_, upper, cv::Scalar(35, 30, 30), 0.012 * w, 0.85);
  Polyline crease = upper;
  for (auto& p : crease) p.y -= float(0.035 * w);
  blend_stroke(canvas_, crease, shade(face_.skin, 0.6), 0.008 * w, 0.25);
  blend_stroke(canvas_, lower, shade(face_.skin, 0.55), 0.005 * w, 0.3);
}

void FaceRenderer::draw_mouth(const FaceLandmarks& px) {
  const double w = width_px_;
  const Polyline upper_inner = spline({px[60], px[61], px[62], px[63], px[64]}, false);
  const Polyline lower_inner = spline({px[60], px[67], px[66], px[65], px[64]}, false);
  if (cv::norm(px[66] - px[62]) > 0.3) {
    // The open mouth: dark inside, upper teeth hanging from the upper lip, a glimpse of
    // the lower teeth, each a fraction of the local opening so they stay inside it.
    blend_polygon(canvas_, spline(Polyline(px.begin() + 60, px.begin() + 68), true, 5),
                  cv::Scalar(35, 25, 75), 1.0);
    auto band = [&](const Polyline& from, const Polyline& to, double fraction, double limit) {
      Polyline poly = from;
      for (size_t i = from.size(); i-- > 0;) {
        const cv::Point2f d = to[i] - from[i];
        const double len = cv::norm(d);
        poly.push_back(from[i] + d * float(len > 0 ? std::min(fraction, limit / len) : 0.0));
      }
      return poly;
    };
    blend_polygon(canvas_, band(upper_inner, lower_inner, 0.38, 0.045 * w), cv::Scalar(205, 215, 222), 0.95);
    blend_polygon(canvas_, band(lower_inner, upper_inner, 0.15, 0.02 * w), cv::Scalar(185, 195, 205), 0.7);
  }
  Polyline upper_lip = spline(Polyline(px.begin() + 48, px.begin() + 55), false);
  upper_lip.insert(upper_lip.end(), upper_inner.rbegin(), upper_inner.rend());
  Polyline lower_lip = spline({px[54], px[55], px[56], px[57], px[58], px[59], px[48]}, false);
  lower_lip.insert(lower_lip.end(), lower_inner.begin(), lower_inner.end());
  blend_polygon(canvas_, upper_lip, face_.lips, 0.9);
  blend_polygon(canvas_, lower_lip, face_.lips * 1.08, 0.9);

  Polyline seam{px[48]};
  seam.insert(seam.end(), upper_inner.begin(), upper_inner.end());
  seam.push_back(px[54]);
  blend_stroke(canvas_, seam, face_.lips * 0.4, 0.006 * w, 0.6);
  const float lower_thickness = px[57].y - px[66].y;
  blend_soft(canvas_, ellipse((px[57] + px[66]) * 0.5f - cv::Point2f(0, 0.1f * lower_thickness),
                              cv::Size2f(0.05f * float(w), 0.2f * lower_thickness)),
             cv::Scalar(255, 255, 255), 0.18, 0.006 * w);
  blend_soft(canvas_, ellipse(px[57] + cv::Point2f(0, float(0.02 * w)), cv::Size2f(0.06f * float(w), 0.012f * float(w))),
             shade(face_.skin, 0.6), 0.2, 0.008 * w);
  for (int i : {50, 52})  // the philtrum ridges
    blend_stroke(canvas_, {px[i == 50 ? 32 : 34], px[i]}, shade(face_.skin, 0.8), 0.006 * w, 0.12);
}

void composite(cv::Mat& frame, const cv::Mat& canvas, const cv::Mat& alpha,
               const cv::Matx23d& canvas_to_frame) {
  // Only the part of the frame the canvas lands on is warped and blended.
  const float cw = float(canvas.cols - 1), ch = float(canvas.rows - 1);
  Polyline corners;
  for (const cv::Point2f c : {cv::Point2f{0, 0}, {cw, 0}, {cw, ch}, {0, ch}})
    corners.emplace_back(float(canvas_to_frame(0, 0) * c.x + canvas_to_frame(0, 1) * c.y + canvas_to_frame(0, 2)),
                         float(canvas_to_frame(1, 0) * c.x + canvas_to_frame(1, 1) * c.y + canvas_to_frame(1, 2)));
  const cv::Rect roi = bounds(corners, frame.size(), 1);
  if (roi.empty()) return;
  cv::Matx23d shifted = canvas_to_frame;
  shifted(0, 2) -= roi.x;
  shifted(1, 2) -= roi.y;
  cv::Mat face, weight;
  cv::warpAffine(canvas, face, shifted, roi.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::warpAffine(alpha, weight, shifted, roi.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
  for (int y = 0; y < roi.height; ++y) {
    auto* p = frame.ptr<cv::Vec3b>(roi.y + y) + roi.x;
    const auto* f = face.ptr<cv::Vec3b>(y);
    const uchar* a = weight.ptr<uchar>(y);
    for (int x = 0; x < roi.width; ++x) {
      if (!a[x]) continue;
      const int t = a[x];
      for (int k = 0; k < 3; ++k) p[x][k] = uchar((p[x][k] * (255 - t) + f[x][k] * t + 127) / 255);
    }
  }
}

}  // namespace dinet::synth
