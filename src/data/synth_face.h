// A parametric face for the synthetic data set: one identity per clip, and the exact
// 68 iBUG landmarks (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, outer lips 48-59,
// inner lips 60-67) for a mouth shape and an eyelid state.
//
// Face units: 1 = the face width (jaw point 0 to 16); origin at the middle of the eye line;
// x to the image right, y down. The proportions follow adult faces, so the published crop
// (points 29, 33, 48, 54 and the lowest point) frames these faces as it frames real ones.
#pragma once

#include <opencv2/core.hpp>

#include "dinet/landmarks.h"
#include "synth_audio.h"
#include "synth_random.h"

namespace dinet::synth {

struct FaceIdentity {
  // Geometry, in face units.
  double jaw_top = 0.0;         // height of jaw points 0 and 16 (near the ears)
  double chin = 0.77;           // eye line to chin (point 8), mouth closed
  double jaw_squareness = 2.4;  // superellipse exponent: 2 round, 3 square
  double eye_gap = 0.11;        // half the distance between the inner eye corners
  double eye_width = 0.21;
  double eye_height = 0.065;
  double brow_height = 0.17;    // eye line to the middle of the brows
  double brow_arch = 0.045;     // how much lower the ends are
  double brow_thickness = 0.03;
  double nose_length = 0.28;    // eye line to the drawn nostrils (point 33 is 0.02 lower)
  double nose_width = 0.09;     // half width at the nostrils
  double mouth_y = 0.45;        // eye line to the mouth corners
  double mouth_half_width = 0.18;
  double upper_lip = 0.035;     // lip thicknesses at rest
  double lower_lip = 0.05;
  double max_gap = 0.14;        // gap between the inner lips at open = 1
  int hair_style = 0;           // 0 short, 1 long, 2 shaved
  // Colours (BGR) and light.
  cv::Scalar skin, lips, hair, iris, clothes;
  double light = 0;  // -1 lit from the image left .. +1 from the right
};

FaceIdentity random_identity(Rng& rng);

// Landmarks in face units. `eyes_open` is 1 open .. 0 shut (a blink).
FaceLandmarks face_shape(const FaceIdentity& face, const MouthShape& mouth, double eyes_open);

// Landmark groups the renderer and the tests share.
inline constexpr int kJaw = 0, kRightBrow = 17, kLeftBrow = 22, kNoseRidge = 27,
                     kNostrils = 31, kRightEye = 36, kLeftEye = 42, kOuterLips = 48,
                     kInnerLips = 60;

}  // namespace dinet::synth
