// Lip-sync figures of one dubbed video with a trained SyncNet (see include/dinet/evaluate.h).
#pragma once

#include <ATen/Tensor.h>

#include <vector>

#include "dinet/evaluate.h"
#include "dinet/networks.h"

namespace dinet::eval {

// `mouths`: (N, 3, m, m) float RGB in [0,1], the mouth rectangle of every result frame
// (frames without a face all zero, listed in `valid` as false). `features`: (F, C), the
// result's own audio. Windows of 5 frames are centred on up to `max_windows` evenly spread
// frames; each is scored against the 9 feature rows centred on it shifted by -K..K.
SyncFigures sync_figures(SyncNet& net, const at::Tensor& mouths, const std::vector<bool>& valid,
                         const at::Tensor& features, int max_offset, int max_windows);

}  // namespace dinet::eval
