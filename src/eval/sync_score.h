// Lip-sync figures of one dubbed video with a trained SyncNet (see include/dinet/evaluate.h),
// computed as the video's frames are read.
#pragma once

#include <ATen/Tensor.h>

#include <map>
#include <vector>

#include "dinet/evaluate.h"
#include "dinet/networks.h"

namespace dinet::eval {

// Windows of 5 frames are centred on up to `max_windows` evenly spread frames; each is scored
// against the 9 feature rows centred on it shifted by -K..K. The windows are chosen before any
// frame is read (from which frames have a face and how much audio there is), and a batch of
// windows is embedded as soon as its last frame arrives, so only the mouths of one batch are
// held: memory does not grow with the video's length.
class SyncScorer {
 public:
  // Most mouths held at once: the frames of one batch of windows.
  static constexpr int64_t kBatchWindows = 8;
  static constexpr int64_t kMaxHeldMouths = kBatchWindows * 5;

  // `has_face`: for every frame of the video, whether its mouth can be cropped. `features`:
  // (F, C), the result's own audio. Throws dinet::Error when no window fits.
  SyncScorer(SyncNet& net, const std::vector<bool>& has_face, const at::Tensor& features, int max_offset,
             int max_windows);
  // Whether `frame`'s mouth is in a window (only those need cropping and adding).
  bool wants(int64_t frame) const;
  // The mouth of a wanted frame, (3, m, m) float RGB in [0,1], frames in increasing order.
  void add(int64_t frame, const at::Tensor& mouth);
  // Throws dinet::Error when a wanted frame never came (the video ended early).
  SyncFigures finish();
  // The most mouths held at once so far.
  size_t peak_held() const { return peak_held_; }

 private:
  void embed_batch();

  SyncNet& net_;
  at::Tensor features_;  // (F, C) float
  int max_offset_;
  int64_t frames_;
  std::vector<int64_t> centres_;
  size_t embedded_ = 0;                  // centres whose windows are embedded
  std::map<int64_t, at::Tensor> held_;   // mouths of the windows not yet embedded
  size_t peak_held_ = 0;
  std::vector<at::Tensor> faces_;        // (batch, 128, m/32, m/32) per embedded batch
};

}  // namespace dinet::eval
