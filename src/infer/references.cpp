#include "infer/references.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "dinet/error.h"
#include "dinet/face_geometry.h"
#include "dinet/media.h"

namespace dinet::infer {
namespace {

bool inside(const CropWindow& window, cv::Size frame) {
  const cv::Rect2f& r = window.rect;
  return r.x >= 0 && r.y >= 0 && r.x + r.width <= frame.width && r.y + r.height <= frame.height;
}

// Keeps the frames passing `keep` unless fewer than `minimum` would remain.
std::vector<int64_t> prefer(const std::vector<int64_t>& frames, size_t minimum,
                            const std::function<bool(int64_t)>& keep) {
  std::vector<int64_t> kept;
  std::copy_if(frames.begin(), frames.end(), std::back_inserter(kept), keep);
  return kept.size() >= minimum ? kept : frames;
}

}  // namespace

std::vector<int64_t> choose_reference_frames(const LandmarkTrack& track,
                                             const std::vector<std::optional<CropWindow>>& windows,
                                             cv::Size frame_size, int64_t usable, uint64_t seed, int count) {
  std::vector<int64_t> candidates;
  const int64_t end = std::min<int64_t>(usable, static_cast<int64_t>(windows.size()));
  for (int64_t t = 0; t < end; ++t)
    if (windows[t] && track.success[t]) candidates.push_back(t);
  if (candidates.empty()) return {};

  // Interpolated frames carry half their neighbours' confidence, doubtful fits less.
  std::vector<float> confidences;
  for (int64_t t : candidates) confidences.push_back(track.confidence[t]);
  const size_t high = confidences.size() * 9 / 10;
  std::nth_element(confidences.begin(), confidences.begin() + high, confidences.end());
  const float confident = 0.8f * confidences[high];
  const size_t minimum = static_cast<size_t>(count);
  candidates = prefer(candidates, minimum, [&](int64_t t) { return track.confidence[t] >= confident; });
  candidates = prefer(candidates, minimum, [&](int64_t t) { return inside(*windows[t], frame_size); });

  std::vector<std::pair<double, int64_t>> by_opening;
  for (int64_t t : candidates) by_opening.emplace_back(mouth_opening(track.frames[t]), t);
  std::sort(by_opening.begin(), by_opening.end());
  std::mt19937_64 random(seed);
  std::vector<int64_t> chosen;
  const size_t n = by_opening.size();
  for (int k = 0; k < count; ++k) {
    // Bin k of `count` equal bins; with fewer candidates than bins, bins share frames.
    const size_t begin = n * k / count, end_bin = std::max(begin + 1, n * (k + 1) / count);
    std::uniform_int_distribution<size_t> pick(begin, std::min(end_bin, n) - 1);
    chosen.push_back(by_opening[pick(random)].second);
  }
  return chosen;
}

at::Tensor face_tensor(const cv::Mat& bgr) {
  const at::Tensor pixels = torch::from_blob(bgr.data, {bgr.rows, bgr.cols, 3}, {static_cast<int64_t>(bgr.step[0]), 3, 1}, at::kByte);
  return pixels.flip({2}).permute({2, 0, 1}).to(at::kFloat).div_(255);
}

at::Tensor reference_faces(const std::filesystem::path& video, const std::vector<int64_t>& frames,
                           const std::vector<std::optional<CropWindow>>& windows, const FaceSize& size) {
  const int64_t last = *std::max_element(frames.begin(), frames.end());
  std::vector<at::Tensor> faces(frames.size());
  VideoReader reader(video);
  cv::Mat frame;
  for (int64_t t = 0; t <= last; ++t) {
    if (!reader.read(frame))
      throw Error(video.string(), "ended at frame " + std::to_string(t) + ", before reference frame " +
                                      std::to_string(last));
    for (size_t k = 0; k < frames.size(); ++k)
      if (frames[k] == t) faces[k] = face_tensor(crop_face(frame, *windows[t], size.size()));
  }
  return torch::cat(faces, 0).unsqueeze(0);
}

}  // namespace dinet::infer
