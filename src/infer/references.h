// The five reference faces the generator copies appearance from. The published script picks
// five frames at random, so a video whose speaker rests with a closed mouth often gets five
// closed mouths and teeth can never appear. Here they are spread over the range of mouth
// openings (quantiles of `mouth_opening`, face_geometry.h), drawn from frames whose landmarks are
// confident, and reproducible for a given seed.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "dinet/crop.h"
#include "dinet/landmarks.h"

namespace dinet::infer {

// `count` frame indices among the first `usable` frames that have a window: candidates
// sorted by mouth opening are cut into `count` quantile bins and one frame is drawn from
// each with `seed`. Frames less confident than 0.8 x the 90th percentile of confidence
// (interpolated ones among them), and frames whose window leaves the picture, are left out
// while enough others remain. Returns them in order of
// opening; repeats frames when fewer than `count` have a face. Empty when none has one.
std::vector<int64_t> choose_reference_frames(const LandmarkTrack& track,
                                             const std::vector<std::optional<CropWindow>>& windows,
                                             cv::Size frame_size, int64_t usable, uint64_t seed,
                                             int count = 5);

// The chosen frames' faces, decoded from `video` (read up to the last of them), cropped with
// their windows and stacked on channels: (1, 3 * frames.size(), H, W), RGB in [0, 1].
at::Tensor reference_faces(const std::filesystem::path& video, const std::vector<int64_t>& frames,
                           const std::vector<std::optional<CropWindow>>& windows, const FaceSize& size);

// A model-space BGR face (CV_8UC3) as a (3, H, W) RGB float tensor in [0, 1].
at::Tensor face_tensor(const cv::Mat& bgr);

}  // namespace dinet::infer
