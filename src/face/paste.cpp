// Paste-back of a generated model-space face into its frame: the published hard rectangle,
// the feathered window, and the lower face only.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "dinet/crop.h"
#include "dinet/error.h"
#include "face/model_to_frame.h"

namespace dinet {
namespace {

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
    const float wy = std::min(face::smooth_ramp(float(v), q), face::smooth_ramp(float(size.height - 1 - v), q));
    float* row = mask.ptr<float>(v);
    for (int u = 0; u < size.width; ++u)
      row[u] = wy * std::min(face::smooth_ramp(float(u), q), face::smooth_ramp(float(size.width - 1 - u), q));
  }
  return mask;
}

// The frame pixels the window touches.
cv::Rect window_pixels(const CropWindow& window, cv::Size frame) {
  const cv::Rect2f& w = window.rect;
  const cv::Rect bounds(cv::Point(int(std::floor(w.x)), int(std::floor(w.y))),
                        cv::Point(int(std::ceil(w.x + w.width)), int(std::ceil(w.y + w.height))));
  return bounds & cv::Rect(0, 0, frame.width, frame.height);
}

// The face resampled onto the frame pixels of `roi`, and its feathered window mask there
// (zero outside the window, so pixels beyond it come back exactly as they were).
void warp_face(const cv::Mat& face, const CropWindow& window, const cv::Rect& roi, cv::Mat& warped,
               cv::Mat& alpha) {
  const cv::Matx23d to_roi = face::model_to_frame(window.rect, face.size(), cv::Point2f(float(roi.x), float(roi.y)));
  cv::warpAffine(face, warped, to_roi, roi.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::warpAffine(feather_mask(face.size()), alpha, to_roi, roi.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
}

// target + alpha (over - target), in float; exactly `target` where alpha is 0.
void blend_into(cv::Mat target, const cv::Mat& over, const cv::Mat& alpha) {
  cv::Mat base, top, alpha_n;
  target.convertTo(base, CV_32F);
  over.convertTo(top, CV_32F);
  cv::merge(std::vector<cv::Mat>(target.channels(), alpha), alpha_n);
  cv::Mat blended = base + (top - base).mul(alpha_n);
  blended.convertTo(target, target.type());
}

// Moves the prediction's colours (Lab mean and spread) onto the source's over `ring`, pixels
// both show just outside the mask: the prediction then meets the skin around it without a
// step even when the model shifts colours. Returns the prediction as CV_32FC3 BGR in [0, 1].
cv::Mat match_colour(const cv::Mat& predicted, const cv::Mat& source, const cv::Mat& ring) {
  cv::Mat predicted_lab, source_lab;
  predicted.convertTo(predicted_lab, CV_32F, 1.0 / 255);
  source.convertTo(source_lab, CV_32F, 1.0 / 255);
  cv::cvtColor(predicted_lab, predicted_lab, cv::COLOR_BGR2Lab);
  cv::cvtColor(source_lab, source_lab, cv::COLOR_BGR2Lab);
  // Too few pixels give statistics noisier than the shift they would remove.
  constexpr int kMinRingPixels = 32;
  if (cv::countNonZero(ring) >= kMinRingPixels) {
    cv::Scalar mean_p, sd_p, mean_s, sd_s;
    cv::meanStdDev(predicted_lab, mean_p, sd_p, ring);
    cv::meanStdDev(source_lab, mean_s, sd_s, ring);
    std::vector<cv::Mat> channels;
    cv::split(predicted_lab, channels);
    for (int c = 0; c < 3; ++c) {
      // A blurred prediction has less spread; stretching it far would amplify its noise.
      const double gain = std::clamp(sd_s[c] / std::max(sd_p[c], 1e-3), 0.75, 1.33);
      channels[c].convertTo(channels[c], CV_32F, gain, mean_s[c] - gain * mean_p[c]);
    }
    cv::merge(channels, predicted_lab);
  }
  cv::Mat out;
  cv::cvtColor(predicted_lab, out, cv::COLOR_Lab2BGR);
  return out * 255;
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
  const cv::Rect roi = window_pixels(window, frame.size());
  if (roi.empty()) return;
  cv::Mat warped, alpha;
  warp_face(face, window, roi, warped, alpha);
  blend_into(frame(roi), warped, alpha);
}

void paste_lower_face(cv::Mat& frame, const cv::Mat& face, const CropWindow& window, const FaceLandmarks& landmarks) {
  if (frame.type() != CV_8UC3) throw Error("paste_face: the lower_face paste takes 8-bit BGR frames");
  const FrameMask mask = lower_face_mask(landmarks, frame.size());
  const cv::Rect roi = mask.roi & window_pixels(window, frame.size());
  if (roi.empty()) return;
  cv::Mat warped, cover;
  warp_face(face, window, roi, warped, cover);
  const cv::Mat lower_face = mask.alpha(roi - mask.roi.tl());
  // Just outside the polygon (the outer half of the soft edge), where the prediction is whole.
  const cv::Mat ring = (lower_face > 0) & (lower_face <= 0.5f) & (cover >= 0.999f);
  const cv::Mat matched = match_colour(warped, frame(roi), ring);
  blend_into(frame(roi), matched, lower_face.mul(cover));
}

}  // namespace

PasteMode parse_paste_mode(const std::string& name) {
  if (name == "hard") return PasteMode::Hard;
  if (name == "feathered") return PasteMode::Feathered;
  if (name == "lower_face") return PasteMode::LowerFace;
  throw Error("paste mode " + name + ": expected hard, feathered or lower_face");
}

void paste_face(cv::Mat& frame, const cv::Mat& face, const CropWindow& window, PasteMode mode,
                const FaceLandmarks* landmarks) {
  if (face.type() != frame.type())
    throw Error("paste_face: the face's pixel type differs from the frame's");
  switch (mode) {
    case PasteMode::Hard:
      return paste_hard(frame, face, window);
    case PasteMode::Feathered:
      return paste_feathered(frame, face, window);
    case PasteMode::LowerFace:
      if (!landmarks) throw Error("paste_face: the lower_face paste needs the frame's landmarks");
      return paste_lower_face(frame, face, window, *landmarks);
  }
}

}  // namespace dinet
