#include "eval/lse_crop.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "dinet/error.h"
#include "eval/lse_syncnet.h"

namespace dinet::eval {
namespace {

constexpr double kCropScale = 0.4;    // run_pipeline.py: --crop_scale
constexpr double kPadValue = 110;     // numpy.pad(..., constant_values=(110, 110))
constexpr double kForehead = 0.25;    // the box's top above the brows, in brow-to-chin heights

}  // namespace

LseFaceBox lse_face_box(const FaceLandmarks& landmarks) {
  float left = landmarks[0].x, right = left, chin = landmarks[0].y;
  for (int k = 0; k <= 16; ++k) {
    left = std::min(left, landmarks[k].x);
    right = std::max(right, landmarks[k].x);
    chin = std::max(chin, landmarks[k].y);
  }
  float brows = landmarks[17].y;
  for (int k = 17; k <= 26; ++k) brows = std::min(brows, landmarks[k].y);
  const double top = brows - kForehead * (chin - brows);
  // crop_video: s = max(w, h) / 2 and the centre of the box.
  return {(left + right) / 2.0, (top + chin) / 2.0, std::max<double>(right - left, chin - top) / 2.0};
}

std::vector<double> median_filter(const std::vector<double>& values, int kernel) {
  const int64_t n = static_cast<int64_t>(values.size()), half = kernel / 2;
  std::vector<double> out(n), window(kernel);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < kernel; ++k) {
      const int64_t j = i + k - half;
      window[k] = j >= 0 && j < n ? values[j] : 0.0;
    }
    std::nth_element(window.begin(), window.begin() + half, window.end());
    out[i] = window[half];
  }
  return out;
}

std::vector<LseFaceBox> lse_face_boxes(const LandmarkTrack& track) {
  const int64_t n = static_cast<int64_t>(track.size());
  std::vector<int64_t> faces;
  for (int64_t i = 0; i < n; ++i)
    if (track.success[i]) faces.push_back(i);
  if (faces.empty()) return {};
  std::vector<double> s(n), x(n), y(n);
  for (int64_t i = 0; i < n; ++i) {
    // The nearest faces on either side; before the first or after the last, that one alone.
    const auto it = std::lower_bound(faces.begin(), faces.end(), i);
    const int64_t after = it == faces.end() ? faces.back() : *it;
    const int64_t before = after == i || it == faces.begin() ? after : *(it - 1);
    const LseFaceBox a = lse_face_box(track.frames[before]), b = lse_face_box(track.frames[after]);
    const double t = after == before ? 0.0 : double(i - before) / double(after - before);
    s[i] = a.s + t * (b.s - a.s);
    x[i] = a.x + t * (b.x - a.x);
    y[i] = a.y + t * (b.y - a.y);
  }
  s = median_filter(s, kLseMedianFrames);
  x = median_filter(x, kLseMedianFrames);
  y = median_filter(y, kLseMedianFrames);
  std::vector<LseFaceBox> boxes(n);
  for (int64_t i = 0; i < n; ++i) boxes[i] = {x[i], y[i], s[i]};
  return boxes;
}

cv::Mat lse_crop(const cv::Mat& frame, const LseFaceBox& box) {
  const double bs = box.s;
  const int pad = static_cast<int>(bs * (1 + 2 * kCropScale));
  cv::Mat padded;
  cv::copyMakeBorder(frame, padded, pad, pad, pad, pad, cv::BORDER_CONSTANT, cv::Scalar::all(kPadValue));
  const double my = box.y + pad, mx = box.x + pad;
  // Python's int() truncates toward zero; numpy slicing clips to the array.
  const auto row0 = std::clamp(static_cast<int>(std::trunc(my - bs)), 0, padded.rows);
  const auto row1 = std::clamp(static_cast<int>(std::trunc(my + bs * (1 + 2 * kCropScale))), 0, padded.rows);
  const auto col0 = std::clamp(static_cast<int>(std::trunc(mx - bs * (1 + kCropScale))), 0, padded.cols);
  const auto col1 = std::clamp(static_cast<int>(std::trunc(mx + bs * (1 + kCropScale))), 0, padded.cols);
  if (row1 <= row0 || col1 <= col0)
    throw Error("LSE face crop: the box (centre " + std::to_string(box.x) + ", " + std::to_string(box.y) +
                ", half-size " + std::to_string(bs) + ") leaves the frame");
  cv::Mat crop;
  cv::resize(padded(cv::Range(row0, row1), cv::Range(col0, col1)), crop,
             cv::Size(kLseCropSize, kLseCropSize), 0, 0, cv::INTER_LINEAR);
  return crop;
}

}  // namespace dinet::eval
