// Measures of a face taken from its 68 landmarks (iBUG order, 0-based), written once and used by
// reference choice (infer), the lip-shape targets (train), the evaluation and the dub figures
// (eval). Distances are in the landmarks' pixels unless the name says otherwise.
#pragma once

#include "dinet/landmarks.h"

namespace dinet {

// Distance between the eye centres (means of 36-41 and 42-47): a size of the face that does
// not change as the mouth moves, so it normalises mouth measures across videos.
double inter_ocular_distance(const FaceLandmarks& landmarks);
// Inner-lip gap: mean distance of the facing inner-lip points 61-67, 62-66, 63-65.
double inner_lip_gap(const FaceLandmarks& landmarks);
// The inner-lip gap over the inter-ocular distance: about 0 for closed lips.
double inner_lip_gap_iod(const FaceLandmarks& landmarks);
// Distance between the mouth corners 48 and 54.
double mouth_width(const FaceLandmarks& landmarks);
// Inner-lip gap over mouth width: 0 for closed lips, about 0.5 wide open.
double mouth_opening(const FaceLandmarks& landmarks);
// Width of the face at its widest landmarks (jaw points 0 and 16).
double face_width(const FaceLandmarks& landmarks);
// Mean distance of the 20 mouth points (48-67) of two faces (LMD).
double mouth_landmark_distance(const FaceLandmarks& a, const FaceLandmarks& b);

}  // namespace dinet
