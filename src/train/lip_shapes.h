// The mouth's shape in each frame, from the landmark CSVs that `dinet prepare` (or OpenFace)
// wrote beside the crops: inner-lip gap and mouth width (face_geometry.h), both over
// the nose-to-chin length (y8 - y27) so that they do not depend on the face's size. SyncNet
// training regresses them from its mouth embedding (a training-only head): without that
// signal its face encoder does not learn to look at the lips (docs/training.md).
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "train/samples.h"
#include "train/training_set.h"

namespace dinet::train {

// Reads <data>/split_video_25fps_landmark_openface/<video>.csv for every video, where <data>
// is the folder above split_video_25fps_crop_face, and sets TrainingVideo::lip_shape,
// standardised over the whole set. Videos without a CSV keep an empty one. Returns the
// names of those videos; a CSV that cannot be read is an error naming the file.
std::vector<std::string> attach_lip_shapes(TrainingSet& set);

// (B, 5 * kLipMeasures): the shapes of frames 2..6 of each pair's clip, the frames SyncNet
// sees; NaN where the video has none or the face was not found.
at::Tensor lip_shape_targets(const TrainingSet& set, std::span<const SyncPair> pairs);

// Mean squared error over the finite targets (0 when there are none).
at::Tensor lip_shape_loss(const at::Tensor& predicted, const at::Tensor& target);

}  // namespace dinet::train
