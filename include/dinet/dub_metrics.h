// Figures of a dub that a viewer notices: a seam around the pasted mouth, a colour shift, a
// blurred mouth, a mouth that moves in silence (issue 24). All are taken around the lower-face
// paste mask (crop.h: lower_face_mask), the same function the paste uses.
#pragma once

#include <opencv2/core.hpp>

#include <cmath>
#include <span>
#include <vector>

#include "dinet/face_geometry.h"  // inner_lip_gap_iod, inter_ocular_distance
#include "dinet/landmarks.h"

namespace dinet {

// Figures of one dubbed frame against its source frame (both BGR 8-bit, same size), around the
// lower-face paste mask of the source frame's landmarks. NaN where the mask leaves the frame.
struct DubFrameFigures {
  // Mean gradient magnitude (Sobel, BGR levels per pixel, the channels' root sum of squares)
  // over the mask's soft edge, in the dubbed frame and at the same pixels of the source: their
  // ratio is 1 without a seam, above 1 where the paste adds a step.
  double seam_gradient_dubbed = 0;
  double seam_gradient_source = 0;
  // The CIE76 size (Lab, L in 0..100) of the mean Lab difference between the frames over the
  // inner half of the soft edge, the ring where the pasted pixels meet the source's. Taken of
  // the mean, not per pixel, so it measures a shift of colour, not the texture a model redraws.
  double colour_shift_lab = 0;
  // Variance of the Laplacian of the grey picture over the mouth box (outer lips 48-59 of the
  // source's landmarks, a fifth of the mouth width around them).
  double mouth_sharpness_dubbed = 0, mouth_sharpness_source = 0;
  double inner_lip_gap_iod = 0;  // of the dubbed frame's landmarks when given, else NaN
};
// Throws dinet::Error when the frames differ in size or are not 8-bit BGR.
DubFrameFigures dub_frame_figures(const cv::Mat& dubbed, const cv::Mat& source,
                                  const FaceLandmarks& source_landmarks,
                                  const FaceLandmarks* dubbed_landmarks = nullptr);

// Per 25 fps frame (frame k covers [k/fps, (k+1)/fps), the last one possibly shorter): true
// where the audio's RMS is below threshold_dbfs (dB relative to full scale, a full-scale
// square wave being 0 dBFS). Mono float samples in [-1, 1].
std::vector<bool> silent_frames(std::span<const float> samples, int sample_rate, double fps,
                                double threshold_dbfs = -40);

}  // namespace dinet
