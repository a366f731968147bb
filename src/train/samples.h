// Training samples drawn from a TrainingSet: the published frame-stage sampling, and the
// in-sync / off-sync pairs SyncNet learns from. Every draw takes its randomness from
// (seed, epoch, sample index), so a batch is the same whichever worker thread makes it and a
// resumed run continues with exactly the batches the interrupted one would have had.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "dinet/crop.h"
#include "train/training_set.h"

namespace dinet::train {

// A generator for one sample; `stream` separates independent uses of the same index.
std::mt19937_64 sample_rng(uint64_t seed, int64_t epoch, int64_t index, uint64_t stream = 0);

// Building blocks of the batches below (and of the clip stage's, clip_samples.h).
// Copies an RGB uint8 image into channels [channel, channel + 3) of an (H, W, channels)
// float buffer, scaled to [0,1]. Plain loops: worker threads must not use LibTorch's
// intra-op thread pool, which the training step owns.
void put_image(const cv::Mat& rgb, float* hwc, int channels, int channel);
// An uninitialised float (B, H, W, C) buffer, and the same storage seen as NCHW
// (channels-last strides, no copy).
at::Tensor nhwc_batch(int64_t b, int64_t h, int64_t w, int64_t c);
at::Tensor as_nchw(const at::Tensor& nhwc);
// Copies a (rows, C) feature window transposed into a (C, rows) slot.
void put_audio(const at::Tensor& window, float* dst);
// k distinct values of [0, n), in random order (Python's random.sample(range(n), k)).
std::vector<int32_t> distinct_indices(int32_t n, int32_t k, std::mt19937_64& rng);

// The published epoch (get_data + DataLoader(shuffle=True, drop_last=True)): every video
// `augment_num` times, shuffled; sample i of the epoch comes from video plan[i].
std::vector<int32_t> epoch_plan(size_t videos, int64_t augment_num, uint64_t seed, int64_t epoch);

// Images are RGB in [0,1], NCHW with channels-last strides (as the batch is filled).
struct FrameBatch {
  at::Tensor target;      // (B,3,H,W) the source frame, what the generator must produce
  at::Tensor masked;      // (B,3,H,W) the same with the mouth rectangle set to 0
  at::Tensor references;  // (B,15,H,W) five faces of the same video stacked on channels
  at::Tensor audio;       // (B,C,5) feature rows t-2 .. t+2 of the source frame t
  int64_t size() const { return target.size(0); }
};

// The published frame sample (dataset_DINet_frame.py): six distinct clips of the video; the
// source is frame 2..6 of the first, with its 5-row feature window; one random frame of
// each of the other five is a reference. `hflip` mirrors a sample's images together with
// probability 1/2 (the mouth rectangle is centred, so the mask is unchanged). Each video
// needs at least 6 clips.
FrameBatch make_frame_batch(const TrainingSet& set, const FaceSize& face,
                            std::span<const int32_t> videos, uint64_t seed, int64_t epoch,
                            int64_t first_index, bool hflip);

// A batch of the published shapes with random pixels and 29 random feature channels, the
// mouth rectangle of the masked source zeroed: for tests and benchmarks of the training step.
FrameBatch random_frame_batch(const FaceSize& face, int64_t batch);

// One SyncNet example: the mouths of frames 2..6 of a clip, and 9 feature rows of
// `audio_video` starting at video frame `audio_first_frame`. In sync when the audio is
// the clip's own (same video, same first frame).
struct SyncPair {
  int32_t video = 0, clip = 0;
  int32_t audio_video = 0;
  int64_t audio_first_frame = 0;
  bool in_sync = false;
};

// Offsets of shifted negatives: |d| in [kMinShift, kMaxShift] frames. A shift of 1 or 2
// frames barely changes a 9-frame window, so those are neither positives nor negatives.
inline constexpr int kMinShift = 3;
inline constexpr int kMaxShift = 15;

// Half in sync; a quarter the same video's audio shifted by kMinShift..kMaxShift frames
// either way; a quarter another video's audio (another far part of the same video when
// there is only one). `positive` and `shifted` choose the kind instead of chance, for
// balanced evaluation sets.
SyncPair draw_sync_pair(const TrainingSet& set, int32_t video, std::mt19937_64& rng);
// The pairs training draws: sample 2j (in sync) and 2j+1 (off sync: shifted or other audio,
// by chance) show the same mouths, a random clip of `video`, when both draw from a generator
// seeded alike. Only the audio then tells the two labels apart, which the network must learn;
// with independent pairs (draw_sync_pair) it sits for hundreds of steps at the constant 0.5.
SyncPair draw_matched_sync_pair(const TrainingSet& set, int32_t video, bool in_sync, std::mt19937_64& rng);
SyncPair draw_negative_pair(const TrainingSet& set, int32_t video, int32_t clip, bool shifted,
                            std::mt19937_64& rng);

struct SyncBatch {
  at::Tensor mouths;  // (B,15,m,m) RGB [0,1], channels-last strides
  at::Tensor audio;   // (B,C,9)
  at::Tensor label;   // (B,) float: 1 in sync, 0 not
  at::Tensor lips;    // (B,10) lip shapes of frames 2..6 (lip_shapes.h); undefined unless asked for
  int64_t size() const { return mouths.size(0); }
};
SyncBatch make_sync_batch(const TrainingSet& set, const FaceSize& face, std::span<const SyncPair> pairs);

}  // namespace dinet::train
