// Model-space faces: the crop out of the frame, the mouth hole, and paste-back.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "dinet/crop.h"
#include "dinet/error.h"

namespace dinet {
namespace {

bool is_integral(const cv::Rect2f& r) {
  return r.x == std::floor(r.x) && r.y == std::floor(r.y) && r.width == std::floor(r.width) &&
         r.height == std::floor(r.height);
}

// Model pixel (u, v) -> frame pixel, pixel centres mapped onto pixel centres as cv::resize
// does, so that an integer window gives the same sampling positions as the published resize.
cv::Matx23d model_to_frame(const cv::Rect2f& window, cv::Size model, cv::Point2f origin = {}) {
  const double sx = window.width / model.width, sy = window.height / model.height;
  return {sx, 0, window.x - origin.x + 0.5 * sx - 0.5, 0, sy, window.y - origin.y + 0.5 * sy - 0.5};
}

// 0 at the edge, 1 at `width` inside, smoothstep between: no visible ramp boundary.
float ramp(float distance, float width) {
  const float t = std::clamp(distance / width, 0.f, 1.f);
  return t * t * (3 - 2 * t);
}

// The feathered paste mask in model space (CV_32F, `size`): 1 over the top 3r rows except a
// q-wide margin, falling to 0 at the sides and top and across the bottom q rows, which the
// published paste drops. The mouth hole (rows [r, 3r), columns [q, W-q)) is all 1.
cv::Mat feather_mask(cv::Size size) {
  // W = 2.5 r and H = 3.25 r for every mouth size; these also hold for a face of any size
  // with the model aspect.
  const float r = size.width / 2.5f, q = r / 4;
  cv::Mat mask(size, CV_32F);
  // Distances from the outermost pixels, so those are exactly 0 and the hole's edge pixels
  // (q pixels in) exactly 1.
  for (int v = 0; v < size.height; ++v) {
    const float wy = std::min(ramp(float(v), q), ramp(float(size.height - 1 - v), q));
    float* row = mask.ptr<float>(v);
    for (int u = 0; u < size.width; ++u)
      row[u] = wy * std::min(ramp(float(u), q), ramp(float(size.width - 1 - u), q));
  }
  return mask;
}

void paste_hard(cv::Mat& frame, const cv::Mat& face, const CropWindow& window) {
  const cv::Rect rect(cvRound(window.rect.x), cvRound(window.rect.y), cvRound(window.rect.width),
                      cvRound(window.rect.height));
  cv::Mat resized;
  cv::resize(face, resized, rect.size(), 0, 0, cv::INTER_LINEAR);
  const cv::Rect top(rect.x, rect.y, rect.width, std::min(3 * window.radius, rect.height));
  const cv::Rect inside = top & cv::Rect(0, 0, frame.cols, frame.rows);
  if (inside.empty()) return;
  resized(inside - top.tl()).copyTo(frame(inside));
}

void paste_feathered(cv::Mat& frame, const cv::Mat& face, const CropWindow& window) {
  const cv::Rect2f& w = window.rect;
  const cv::Rect bounds(cv::Point(int(std::floor(w.x)), int(std::floor(w.y))),
                        cv::Point(int(std::ceil(w.x + w.width)), int(std::ceil(w.y + w.height))));
  const cv::Rect roi = bounds & cv::Rect(0, 0, frame.cols, frame.rows);
  if (roi.empty()) return;
  const cv::Matx23d to_roi = model_to_frame(w, face.size(), cv::Point2f(float(roi.x), float(roi.y)));
  cv::Mat warped, alpha;
  cv::warpAffine(face, warped, to_roi, roi.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  // Zero outside the window, so pixels beyond it come back exactly as they were.
  cv::warpAffine(feather_mask(face.size()), alpha, to_roi, roi.size(), cv::INTER_LINEAR,
                 cv::BORDER_CONSTANT, 0);

  cv::Mat target = frame(roi), base, over;
  target.convertTo(base, CV_32F);
  warped.convertTo(over, CV_32F);
  std::vector<cv::Mat> a(frame.channels(), alpha);
  cv::Mat alpha_n;
  cv::merge(a, alpha_n);
  // base + alpha (over - base): exact `base` where alpha is 0.
  cv::Mat blended = base + (over - base).mul(alpha_n);
  blended.convertTo(target, frame.type());
}

}  // namespace

FaceSize face_size(int mouth_region_size) {
  const int m = mouth_region_size;
  if (m <= 0 || m % 8 != 0)
    throw Error("mouth region size " + std::to_string(m) +
                ": must be a positive multiple of 8 (64, 128 or 256)");
  FaceSize s;
  s.mouth = m;
  s.r = m / 2;
  s.q = s.r / 4;
  s.height = 3 * s.r + s.q;
  s.width = 2 * s.r + 2 * s.q;
  return s;
}

void mask_mouth(cv::Mat& face, int mouth_region_size) {
  const FaceSize s = face_size(mouth_region_size);
  if (face.cols != s.width || face.rows != s.height)
    throw Error("mask_mouth: face is " + std::to_string(face.cols) + "x" + std::to_string(face.rows) +
                ", expected " + std::to_string(s.width) + "x" + std::to_string(s.height) +
                " for mouth size " + std::to_string(mouth_region_size));
  face(s.mouth_rect()).setTo(cv::Scalar::all(0));
}

cv::Mat crop_face(const cv::Mat& frame, const CropWindow& window, cv::Size model_size) {
  cv::Mat out;
  const cv::Rect rect(window.rect);
  const cv::Rect inside = rect & cv::Rect(0, 0, frame.cols, frame.rows);
  if (is_integral(window.rect) && !inside.empty()) {
    // The published slice + cv::resize, with the out-of-frame part replicated from the border.
    cv::Mat cut = frame(inside);
    if (inside != rect)
      cv::copyMakeBorder(frame(inside), cut, inside.y - rect.y, rect.br().y - inside.br().y,
                         inside.x - rect.x, rect.br().x - inside.br().x, cv::BORDER_REPLICATE);
    cv::resize(cut, out, model_size, 0, 0, cv::INTER_LINEAR);
    return out;
  }
  cv::warpAffine(frame, out, model_to_frame(window.rect, model_size), model_size,
                 cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return out;
}

void paste_face(cv::Mat& frame, const cv::Mat& face, const CropWindow& window, PasteMode mode) {
  if (face.type() != frame.type())
    throw Error("paste_face: the face's pixel type differs from the frame's");
  if (mode == PasteMode::Hard)
    paste_hard(frame, face, window);
  else
    paste_feathered(frame, face, window);
}

}  // namespace dinet
