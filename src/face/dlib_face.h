// The two dlib models behind a dlib-free interface, so only dlib_face.cpp pays for dlib's
// heavy headers.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <vector>

#include "dinet/face.h"

namespace dinet::face_detail {

struct Detection {
  cv::Rect2f box;  // in the coordinates of the image given to detect()
  double score = 0;
};

// dlib's HOG frontal face detector (80x80 window, 5 poses). Each instance keeps scratch
// state, so use one per thread.
class HogDetector {
 public:
  HogDetector();
  ~HogDetector();
  HogDetector(const HogDetector&) = delete;
  HogDetector& operator=(const HogDetector&) = delete;
  // Faces in an 8-bit grayscale image, best first.
  std::vector<Detection> detect(const cv::Mat& gray);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The 68 points of the face in `box` of a BGR frame (thread-safe: the model is read-only).
FaceLandmarks predict_shape(const LandmarkModel& model, const cv::Mat& bgr, const cv::Rect2f& box);

}  // namespace dinet::face_detail
