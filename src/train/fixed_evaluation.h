// What the generator stages (frame, clip) share in their per-epoch evaluation: fixed samples,
// the same every epoch and run, and the mouth-L1 figures on them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "train/epoch_steps.h"
#include "train/training_set.h"

namespace dinet::train {

// `samples` fixed samples of `set` (video i % videos for sample i) in batches of at most
// `batch_size`: make(videos, first) makes the batch of those videos whose first sample is
// number `first` (seeded by it, with epoch -1, which training never draws).
template <class Make>
auto fixed_batches(const TrainingSet& set, int64_t samples, int64_t batch_size, const Make& make) {
  std::vector<int32_t> videos;
  for (int64_t i = 0; i < samples; ++i) videos.push_back(static_cast<int32_t>(i % set.videos.size()));
  std::vector<decltype(make(std::span<const int32_t>(), int64_t{}))> batches;
  for (int64_t first = 0; first < samples; first += batch_size)
    batches.push_back(make(std::span<const int32_t>(videos).subspan(first, std::min(batch_size, samples - first)), first));
  return batches;
}

// The generated mouth's L1 against the real one and, for scale, a copied reference's; with
// data held out, the pair on held-out samples and then on trained-on ones (the gap says how
// far the generator carries to data it has not seen, docs/training.md).
inline std::vector<EpochFigure> mouth_l1_figures(bool held_out) {
  std::vector<EpochFigure> figures{{"mouth_l1", held_out ? "mouth L1 held out %.4f" : "mouth L1 %.4f"},
                                   {"copy_reference_l1", "copy a reference %.4f"}};
  if (held_out)
    figures.insert(figures.end(), {{"trained_mouth_l1", "trained on %.4f"},
                                   {"trained_copy_reference_l1", "trained on, copy %.4f"}});
  return figures;
}

}  // namespace dinet::train
