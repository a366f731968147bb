// The still scene around the synthetic speaker (declared in synth_render.h).
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "synth_draw.h"
#include "synth_render.h"

namespace dinet::synth {

Backdrop make_backdrop(cv::Size size, const FaceIdentity& face, cv::Point2f neck, double face_width,
                       Rng& rng) {
  auto colour = [&] { return cv::Scalar(rng.uniform(40, 220), rng.uniform(40, 220), rng.uniform(40, 220)); };
  // A wall lit from above: a vertical gradient between two related colours.
  const cv::Scalar top = colour(), bottom = top * 0.55 + colour() * 0.25;
  Backdrop out;
  cv::Mat& bg = out.wall;
  bg.create(size, CV_8UC3);
  for (int y = 0; y < size.height; ++y) {
    const double t = double(y) / std::max(1, size.height - 1);
    bg.row(y).setTo(top * (1 - t) + bottom * t);
  }
  // Out-of-focus furniture, frames and lamps: a few shapes, blurred.
  const double s = std::max(size.width, size.height);
  for (int i = 0, n = 3 + rng.below(4); i < n; ++i) {
    const cv::Point2f c(float(rng.uniform(0, size.width)), float(rng.uniform(0, size.height)));
    const cv::Size2f half(float(rng.uniform(0.05, 0.3) * s), float(rng.uniform(0.05, 0.3) * s));
    const Polyline shape = rng.chance(0.5)
                               ? Polyline{c - cv::Point2f(half), c + cv::Point2f(half.width, -half.height),
                                          c + cv::Point2f(half), c + cv::Point2f(-half.width, half.height)}
                               : ellipse(c, half);
    blend_polygon(bg, shape, colour(), rng.uniform(0.4, 0.9));
  }
  cv::GaussianBlur(bg, bg, cv::Size(0, 0), 0.006 * s + 0.5);
  // Uneven light and sensor grain, so no part of the frame is flat.
  cv::RNG noise(rng.bits());
  cv::Mat light(5, 5, CV_32F), grain(size, CV_32F);
  noise.fill(light, cv::RNG::NORMAL, 0, 1);
  cv::resize(light, light, size, 0, 0, cv::INTER_CUBIC);
  noise.fill(grain, cv::RNG::NORMAL, 0, 1);
  for (int y = 0; y < size.height; ++y) {
    auto* p = bg.ptr<cv::Vec3b>(y);
    const float* l = light.ptr<float>(y);
    const float* g = grain.ptr<float>(y);
    for (int x = 0; x < size.width; ++x)
      for (int k = 0; k < 3; ++k) p[x][k] = cv::saturate_cast<uchar>(p[x][k] * (1 + 0.08 * l[x]) + 3 * g[x]);
  }

  // Shoulders: sloping from the neck, rounded at the arms, down past the frame; a V-neck
  // opening narrower than the neck; shaded towards the bottom; a folded edge at the collar.
  const float fw = float(face_width);
  Polyline outline;
  for (const cv::Point2f p : {cv::Point2f{-1.4f, 1.2f}, {-1.35f, 0.7f}, {-1.25f, 0.45f}, {-1.05f, 0.3f},
                              {-0.7f, 0.15f}, {-0.3f, 0.02f}, {0.3f, 0.02f}, {0.7f, 0.15f}, {1.05f, 0.3f},
                              {1.25f, 0.45f}, {1.35f, 0.7f}, {1.4f, 1.2f}})
    outline.push_back(neck + p * fw);
  Polyline body = spline(outline, false);
  body.push_back(neck + cv::Point2f(1.4f, 3.0f) * fw);
  body.push_back(neck + cv::Point2f(-1.4f, 3.0f) * fw);
  out.clothes_roi = bounds(body, size, 2);
  if (out.clothes_roi.empty()) return out;
  const cv::Point2f corner = out.clothes_roi.tl();
  Polyline local = body;
  for (auto& p : local) p -= corner;
  const cv::Point2f n = neck - corner;
  const Polyline collar{n + cv::Point2f(-0.22f * fw, -fw), n + cv::Point2f(-0.22f * fw, 0.0f),
                        n + cv::Point2f(0, 0.28f * fw), n + cv::Point2f(0.22f * fw, 0.0f),
                        n + cv::Point2f(0.22f * fw, -fw)};
  out.clothes_alpha = cv::Mat::zeros(out.clothes_roi.size(), CV_8UC1);
  fill_polygon(out.clothes_alpha, local, cv::Scalar(255));
  fill_polygon(out.clothes_alpha, collar, cv::Scalar(0));
  out.clothes.create(out.clothes_roi.size(), CV_8UC3);
  out.clothes.setTo(face.clothes);
  blend_soft(out.clothes, ellipse(n + cv::Point2f(0, 1.1f * fw), cv::Size2f(1.3f * fw, 0.6f * fw)),
             face.clothes * 0.6, 0.5, 0.15 * fw);
  blend_stroke(out.clothes, {collar[1], collar[2], collar[3]}, face.clothes * 0.55, 0.025 * fw, 0.8);
  cv::Mat weave(out.clothes.size(), CV_16SC3);
  noise.fill(weave, cv::RNG::NORMAL, 0, 4);
  cv::add(out.clothes, weave, out.clothes, cv::noArray(), CV_8U);
  return out;
}

void compose_frame(cv::Mat& frame, const Backdrop& backdrop, const FaceRenderer& face,
                   const cv::Matx23d& canvas_to_frame) {
  backdrop.wall.copyTo(frame);
  composite(frame, face.canvas(), face.alpha(), canvas_to_frame);
  const cv::Rect& roi = backdrop.clothes_roi;
  for (int y = 0; y < roi.height; ++y) {
    auto* p = frame.ptr<cv::Vec3b>(roi.y + y) + roi.x;
    const auto* c = backdrop.clothes.ptr<cv::Vec3b>(y);
    const uchar* a = backdrop.clothes_alpha.ptr<uchar>(y);
    for (int x = 0; x < roi.width; ++x) {
      const int t = a[x];
      if (!t) continue;
      for (int k = 0; k < 3; ++k) p[x][k] = uchar((p[x][k] * (255 - t) + c[x][k] * t + 127) / 255);
    }
  }
}

}  // namespace dinet::synth
