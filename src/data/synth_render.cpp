// The parts of the synthetic face that move (jaw, eyes, mouth), drawn every frame, and
// the paste of the face canvas into the video frame.
#include "synth_render.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "synth_draw.h"

namespace dinet::synth {
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
