// The published clip-stage sample (dataset_DINet_clip.py): one clip of a video, its 5 centre
// frames (positions 2..6) to generate, each with its own 5 reference faces, and the clip's 9
// feature rows for the sync loss. Randomness per (seed, epoch, sample), as samples.h.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <span>

#include "dinet/crop.h"
#include "train/training_set.h"

namespace dinet::train {

inline constexpr int kClipFrames = 5;    // generated frames per clip
inline constexpr size_t kClipMinClips = 5;  // random.sample(range(clips), 5) for references

// A batch of B clips laid out as the published trainer flattens it
// (torch.cat(torch.split(x, 1, dim=1), 0)): row k*B + b is centre frame k (clip position
// 2 + k) of clip b. Images RGB in [0,1], NCHW with channels-last strides.
struct ClipBatch {
  at::Tensor target;      // (5B,3,H,W) the frames to generate
  at::Tensor masked;      // (5B,3,H,W) the same with the mouth rectangle set to 0
  at::Tensor references;  // (5B,15,H,W) each frame's own five faces of the same video
  at::Tensor audio;       // (5B,C,5) feature rows t-2 .. t+2 of frame t
  at::Tensor clip_audio;  // (B,C,9) the clip's 9 feature rows (SyncNet's input)
  int64_t clips() const { return clip_audio.size(0); }
  int64_t frames() const { return target.size(0); }
};

// Per sample: a random clip of the video; for each centre frame, 5 distinct random clips of
// the video (the source clip may be among them) with one random frame each as references.
// Each video needs kClipMinClips clips.
ClipBatch make_clip_batch(const TrainingSet& set, const FaceSize& face, std::span<const int32_t> videos,
                          uint64_t seed, int64_t epoch, int64_t first_index);

// (5B,C,H,W) frames in the layout above -> (B,5C,H,W): each clip's frames stacked on
// channels, frame 0 first (torch.cat(torch.split(x, B, dim=0), 1)), the clip
// discriminator's and SyncNet's input.
at::Tensor stack_clip_frames(const at::Tensor& frames, int64_t clips);

// The mouth rectangle (rows r..r+m, columns q..q+m) of (N,C,H,W) images.
at::Tensor mouth_region(const at::Tensor& images, const FaceSize& face);

}  // namespace dinet::train
