// The face crop of the LSE-C/LSE-D evaluation (syncnet_python's run_pipeline.py, crop_video),
// from our 68 dlib landmarks instead of its S3FD face detector, which is not available here.
//
// The box: S3FD, trained on WIDER FACE, boxes the face from the forehead to the chin and
// across the cheeks. The 68 points stop at the brows, so the box here is the landmarks'
// jaw line (points 0-16: left, right and bottom, the chin) and the top of the brows (points
// 17-26) raised by a quarter of the brow-to-chin height, for the forehead. This is our
// approximation, not calibrated against S3FD: figures computed through it may differ from
// those of the published pipeline (docs/evaluation.md).
#pragma once

#include <opencv2/core.hpp>

#include <vector>

#include "dinet/landmarks.h"

namespace dinet::eval {

// run_pipeline.py's signal.medfilt(..., kernel_size=13). With its zero padding a track of
// fewer frames gets empty boxes (the published pipeline drops tracks under 100 frames).
inline constexpr int kLseMedianFrames = 13;

// A face box as crop_video keeps it: centre and half-size s = max(w, h) / 2, pixels.
struct LseFaceBox {
  double x = 0, y = 0, s = 0;
};

// The box of one frame's landmarks (see above).
LseFaceBox lse_face_box(const FaceLandmarks& landmarks);

// One box per frame of `track`. Frames without a face (success 0) are interpolated linearly
// between the nearest frames with one and held at the ends, as run_pipeline interpolates a
// track's boxes; then s, x and y are each median-filtered over 13 frames like
// scipy.signal.medfilt (zero padding at the ends included). Empty when no frame has a face.
std::vector<LseFaceBox> lse_face_boxes(const LandmarkTrack& track);

// scipy.signal.medfilt(values, kernel) for an odd kernel: the median of each window, the
// signal padded with zeros at both ends.
std::vector<double> median_filter(const std::vector<double>& values, int kernel);

// The 224x224 crop of a BGR frame: the frame padded by int(1.8 s) with the value 110, rows
// y - s .. y + 1.8 s and columns x - 1.4 s .. x + 1.4 s (crop_scale 0.4; ends truncated to
// integers as numpy slicing takes them), resized bilinearly as cv2.resize does.
cv::Mat lse_crop(const cv::Mat& frame, const LseFaceBox& box);

}  // namespace dinet::eval
