#include "eval/sync_score.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "dinet/error.h"
#include "dinet/interrupt.h"

namespace dinet::eval {

SyncScorer::SyncScorer(SyncNet& net, const std::vector<bool>& has_face, const at::Tensor& features,
                       int max_offset, int max_windows)
    : net_(net), features_(features.to(torch::kFloat)), max_offset_(max_offset),
      frames_(static_cast<int64_t>(has_face.size())) {
  net_->eval();
  const int64_t rows = features.size(0);
  // Centres whose 5 frames all have a face and whose audio window fits at every offset.
  std::vector<int64_t> candidates;
  for (int64_t t = 2; t + 2 < frames_; ++t) {
    if (t - 4 - max_offset < 0 || t + 4 + max_offset >= rows) continue;
    bool ok = true;
    for (int64_t k = t - 2; k <= t + 2; ++k) ok = ok && has_face[k];
    if (ok) candidates.push_back(t);
  }
  if (candidates.empty())
    throw Error("too few frames with a face (or too little audio) to measure lip sync");
  const int64_t count = std::min<int64_t>(max_windows, candidates.size());
  for (int64_t i = 0; i < count; ++i) centres_.push_back(candidates[i * candidates.size() / count]);
}

bool SyncScorer::wants(int64_t frame) const {
  const auto next = std::lower_bound(centres_.begin() + embedded_, centres_.end(), frame - 2);
  return next != centres_.end() && *next <= frame + 2;
}

void SyncScorer::add(int64_t frame, const at::Tensor& mouth) {
  if (!wants(frame)) return;
  held_[frame] = mouth;
  peak_held_ = std::max(peak_held_, held_.size());
  // A batch runs once the last frame of its last window is in, with the same windows as when
  // the whole video was held, so the figures do not depend on how the frames arrived.
  const size_t last = std::min(centres_.size(), embedded_ + kBatchWindows) - 1;
  if (frame >= centres_[last] + 2) embed_batch();
}

void SyncScorer::embed_batch() {
  throw_if_interrupted();
  torch::NoGradGuard no_grad;
  const size_t end = std::min(centres_.size(), embedded_ + kBatchWindows);
  std::vector<at::Tensor> windows;
  for (size_t i = embedded_; i < end; ++i) {
    std::vector<at::Tensor> window;
    for (int64_t k = centres_[i] - 2; k <= centres_[i] + 2; ++k) window.push_back(held_.at(k));
    const at::Tensor stacked = torch::stack(window);
    windows.push_back(stacked.reshape({15, stacked.size(2), stacked.size(3)}));
  }
  faces_.push_back(net_->embed_mouths(torch::stack(windows)));
  embedded_ = end;
  // Mouths before the next window are no longer needed (its first ones may be held already).
  const int64_t keep_from = embedded_ < centres_.size() ? centres_[embedded_] - 2 : frames_;
  held_.erase(held_.begin(), held_.lower_bound(keep_from));
}

SyncFigures SyncScorer::finish() {
  if (embedded_ < centres_.size())
    throw Error("the video ended before frame " + std::to_string(centres_[embedded_] + 2) +
                ", which its landmarks had (it decoded differently the second time)");
  torch::NoGradGuard no_grad;
  SyncFigures figures;
  figures.score_by_frame.assign(frames_, std::numeric_limits<double>::quiet_NaN());
  // The face embedding is the expensive half: computed once per window, then merged with
  // the audio embedding of every offset.
  const at::Tensor face = torch::cat(faces_);
  std::vector<at::Tensor> by_offset;
  for (int k = -max_offset_; k <= max_offset_; ++k) {
    std::vector<at::Tensor> windows;
    for (int64_t t : centres_) windows.push_back(features_.narrow(0, t + k - 4, 9).t());
    const at::Tensor audio = net_->embed_audio(torch::stack(windows));
    by_offset.push_back(net_->merge(face, audio).mean({1, 2, 3}));  // (windows,)
  }
  const at::Tensor scores = torch::stack(by_offset);  // (offsets, windows)
  const at::Tensor mean = scores.mean(1);
  for (int64_t i = 0; i < mean.size(0); ++i) figures.score_by_offset.push_back(mean[i].item<double>());
  const int64_t best = mean.argmax().item<int64_t>();
  figures.offset = static_cast<int>(best) - max_offset_;
  std::vector<double> sorted = figures.score_by_offset;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  figures.confidence = figures.score_by_offset[best] - sorted[sorted.size() / 2];
  figures.score = figures.score_by_offset[max_offset_];
  const at::Tensor at_zero = scores[max_offset_];
  for (size_t i = 0; i < centres_.size(); ++i) figures.score_by_frame[centres_[i]] = at_zero[i].item<double>();
  return figures;
}

}  // namespace dinet::eval
