#include "train/sync_eval.h"

#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>

#include "train/prefetcher.h"

namespace dinet::train {

SyncEvaluator::SyncEvaluator(const TrainingSet& set, const FaceSize& face, int64_t max_offset, int64_t scan_clips,
                             uint64_t seed, int64_t max_pairs)
    : set_(set), face_(face), max_offset_(max_offset) {
  std::vector<std::pair<int32_t, int32_t>> clips;  // (video, clip)
  for (size_t v = 0; v < set.videos.size(); ++v)
    for (size_t c = 0; c < set.videos[v].clips.size(); ++c) clips.emplace_back(v, c);
  auto rng = sample_rng(seed, /*epoch=*/-2, 0);
  std::shuffle(clips.begin(), clips.end(), rng);
  for (const auto& [v, c] : clips) {
    if (static_cast<int64_t>(pairs_.size()) + 2 > max_pairs) break;
    pairs_.push_back({v, c, v, set.videos[v].clips[c].first_frame, true});
    pairs_.push_back(draw_negative_pair(set, v, c, /*shifted=*/pairs_.size() % 4 == 1, rng));
  }
  // Clips whose audio reaches K frames either way.
  std::vector<std::pair<int32_t, int32_t>> scannable;
  for (const auto& [v, c] : clips) {
    const TrainingVideo& video = set.videos[v];
    const int64_t start = video.clips[c].first_frame;
    if (video.feature_window(start - max_offset, kClipLength + 2 * max_offset)) scannable.emplace_back(v, c);
  }
  const size_t n = std::min<size_t>(scannable.size(), static_cast<size_t>(std::max<int64_t>(scan_clips, 0)));
  for (size_t k = 0; k < n; ++k) {
    const auto [v, c] = scannable[k * scannable.size() / n];
    const int64_t start = set.videos[v].clips[c].first_frame;
    for (int64_t d = -max_offset; d <= max_offset; ++d) scan_.push_back({v, c, v, start + d, d == 0});
  }
}

std::vector<float> SyncEvaluator::scores(SyncNet& net, const Compute& compute, const std::vector<SyncPair>& pairs,
                                         int64_t batch_size, int workers, const Distributed& dist) const {
  const int64_t count = static_cast<int64_t>(pairs.size());
  const int64_t batches = (count + batch_size - 1) / batch_size;
  // This rank's batches: rank, rank + world, ...
  const int64_t world = dist.world_size();
  const int64_t mine = std::max<int64_t>(0, (batches - dist.rank() + world - 1) / world);
  Prefetcher<SyncBatch> loader(mine, workers, 2, [&](int64_t j) {
    const int64_t first = (j * world + dist.rank()) * batch_size;
    return make_sync_batch(set_, face_, std::span(pairs).subspan(first, std::min(batch_size, count - first)));
  });
  // Every rank fills its own batches' places; the sum over the ranks is the whole.
  at::Tensor out = at::zeros({count}, at::kFloat);
  for (int64_t j = 0; j < mine; ++j) {
    const SyncBatch batch = *loader.next();
    const at::Tensor score = forward_without_grad(net, compute, /*train_mode=*/false, batch.mouths, batch.audio);
    out.narrow(0, (j * world + dist.rank()) * batch_size, batch.size())
        .copy_(score.to(at::kFloat).mean({1, 2, 3}).cpu());
  }
  out = dist.all_reduce_sum(out).contiguous();
  return {out.data_ptr<float>(), out.data_ptr<float>() + count};
}

SyncEvaluation SyncEvaluator::run(SyncNet& net, const Compute& compute, int64_t batch_size, int workers,
                                  const Distributed& dist) const {
  SyncEvaluation e;
  const std::vector<float> s = scores(net, compute, pairs_, batch_size, workers, dist);
  int64_t right = 0;
  for (size_t i = 0; i < s.size(); ++i) right += (s[i] > 0.5f) == pairs_[i].in_sync;
  e.pairs = static_cast<int64_t>(s.size());
  e.accuracy = e.pairs ? static_cast<double>(right) / e.pairs : 0;

  const std::vector<float> scan = scores(net, compute, scan_, batch_size, workers, dist);
  const int64_t width = 2 * max_offset_ + 1;
  e.offset_clips = static_cast<int64_t>(scan.size()) / width;
  int64_t zero = 0, total_abs = 0;
  for (int64_t k = 0; k < e.offset_clips; ++k) {
    const auto first = scan.begin() + k * width;
    const int64_t best = std::max_element(first, first + width) - first - max_offset_;
    total_abs += std::abs(best);
    zero += best == 0;
  }
  if (e.offset_clips) {
    e.mean_abs_offset = static_cast<double>(total_abs) / e.offset_clips;
    e.offset_zero_fraction = static_cast<double>(zero) / e.offset_clips;
  }
  return e;
}

}  // namespace dinet::train
