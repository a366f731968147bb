#include "eval/sync_score.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "dinet/error.h"
#include "dinet/interrupt.h"

namespace dinet::eval {

SyncFigures sync_figures(SyncNet& net, const at::Tensor& mouths, const std::vector<bool>& valid,
                         const at::Tensor& features, int max_offset, int max_windows) {
  torch::NoGradGuard no_grad;
  net->eval();
  const int64_t n = mouths.size(0), rows = features.size(0);
  SyncFigures figures;
  figures.score_by_frame.assign(n, std::numeric_limits<double>::quiet_NaN());

  // Centres whose 5 frames all have a face and whose audio window fits at every offset.
  std::vector<int64_t> candidates;
  for (int64_t t = 2; t + 2 < n; ++t) {
    if (t - 4 - max_offset < 0 || t + 4 + max_offset >= rows) continue;
    bool ok = true;
    for (int64_t k = t - 2; k <= t + 2; ++k) ok = ok && valid[k];
    if (ok) candidates.push_back(t);
  }
  if (candidates.empty())
    throw Error("too few frames with a face (or too little audio) to measure lip sync");
  std::vector<int64_t> centres;
  const int64_t count = std::min<int64_t>(max_windows, candidates.size());
  for (int64_t i = 0; i < count; ++i) centres.push_back(candidates[i * candidates.size() / count]);

  // The face embedding is the expensive half: computed once per window, then merged with
  // the audio embedding of every offset.
  const int64_t batch = 8;
  std::vector<at::Tensor> faces;
  for (size_t b = 0; b < centres.size(); b += batch) {
    throw_if_interrupted();
    std::vector<at::Tensor> stack;
    for (size_t i = b; i < std::min(centres.size(), b + batch); ++i)
      stack.push_back(mouths.narrow(0, centres[i] - 2, 5).reshape({15, mouths.size(2), mouths.size(3)}));
    faces.push_back(net->embed_mouths(torch::stack(stack)));
  }
  const at::Tensor face = torch::cat(faces);
  const at::Tensor feat = features.to(torch::kFloat);

  std::vector<at::Tensor> by_offset;
  for (int k = -max_offset; k <= max_offset; ++k) {
    std::vector<at::Tensor> windows;
    for (int64_t t : centres) windows.push_back(feat.narrow(0, t + k - 4, 9).t());
    const at::Tensor audio = net->embed_audio(torch::stack(windows));
    by_offset.push_back(net->merge(face, audio).mean({1, 2, 3}));  // (windows,)
  }
  const at::Tensor scores = torch::stack(by_offset);  // (offsets, windows)
  const at::Tensor mean = scores.mean(1);
  for (int64_t i = 0; i < mean.size(0); ++i) figures.score_by_offset.push_back(mean[i].item<double>());
  const int64_t best = mean.argmax().item<int64_t>();
  figures.offset = static_cast<int>(best) - max_offset;
  std::vector<double> sorted = figures.score_by_offset;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  figures.confidence = figures.score_by_offset[best] - sorted[sorted.size() / 2];
  figures.score = figures.score_by_offset[max_offset];
  const at::Tensor at_zero = scores[max_offset];
  for (size_t i = 0; i < centres.size(); ++i) figures.score_by_frame[centres[i]] = at_zero[i].item<double>();
  return figures;
}

}  // namespace dinet::eval
