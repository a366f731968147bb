// How well a SyncNet tells in-sync audio from off-sync audio on held-out data: accuracy on a
// fixed balanced set of pairs, and the audio-video offset it finds when it scans -K..K
// frames of audio around each clip (a well-trained network finds 0).
#pragma once

#include <cstdint>
#include <vector>

#include "dinet/distributed.h"
#include "dinet/networks.h"
#include "train/compute.h"
#include "train/samples.h"

namespace dinet::train {

struct SyncEvaluation {
  double accuracy = 0;              // pairs whose mean score is on the right side of 0.5
  int64_t pairs = 0;
  double mean_abs_offset = 0;       // frames
  double offset_zero_fraction = 0;
  int64_t offset_clips = 0;         // clips with audio for every offset of the scan
};

class SyncEvaluator {
 public:
  // One in-sync and one off-sync pair per held-out clip (the negatives alternate between
  // shifted and other audio), at most `max_pairs`; up to `scan_clips` clips, spread over
  // the set, for the offset scan. The same every epoch.
  SyncEvaluator(const TrainingSet& set, const FaceSize& face, int64_t max_offset, int64_t scan_clips,
                uint64_t seed, int64_t max_pairs = 512);

  // With `dist` active, the batches are split between the ranks and every rank gets the
  // whole result; every rank must call it.
  SyncEvaluation run(SyncNet& net, const Compute& compute, int64_t batch_size, int workers,
                     const Distributed& dist = Distributed()) const;

 private:
  // Mean score of each pair, in order, with the network in eval mode.
  std::vector<float> scores(SyncNet& net, const Compute& compute, const std::vector<SyncPair>& pairs,
                            int64_t batch_size, int workers, const Distributed& dist) const;

  const TrainingSet& set_;
  FaceSize face_;
  int64_t max_offset_;
  std::vector<SyncPair> pairs_;
  std::vector<SyncPair> scan_;  // (2K+1) pairs per scanned clip, offsets -K..K
};

}  // namespace dinet::train
