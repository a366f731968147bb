#include "train/lip_shapes.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>

#include <cmath>
#include <limits>

#include "dinet/face_geometry.h"
#include "dinet/landmarks.h"

namespace dinet::train {
namespace fs = std::filesystem;
namespace {

constexpr float kUnknown = std::numeric_limits<float>::quiet_NaN();

fs::path landmark_csv(const TrainingVideo& video) {
  // .../<data>/split_video_25fps_crop_face/<video>/<clip>/<frame>.jpg
  const fs::path data = video.clips.front().frames[0].parent_path().parent_path().parent_path().parent_path();
  return data / "split_video_25fps_landmark_openface" / (video.name + ".csv");
}

std::vector<std::array<float, kLipMeasures>> lip_measures(const LandmarkTrack& track) {
  std::vector<std::array<float, kLipMeasures>> out(track.size(), {kUnknown, kUnknown});
  for (size_t f = 0; f < track.size(); ++f) {
    const FaceLandmarks& p = track.frames[f];
    const float nose_chin = p[8].y - p[27].y;
    if (!track.success[f] || !(nose_chin > 0)) continue;
    out[f] = {float(inner_lip_gap(p) / nose_chin), float(mouth_width(p) / nose_chin)};
  }
  return out;
}

}  // namespace

std::vector<std::string> attach_lip_shapes(TrainingSet& set) {
  std::vector<std::string> missing;
  double sum[kLipMeasures] = {}, sum_sq[kLipMeasures] = {};
  int64_t count = 0;
  for (TrainingVideo& video : set.videos) {
    const fs::path csv = video.clips.empty() ? fs::path() : landmark_csv(video);
    if (csv.empty() || !fs::exists(csv)) {
      missing.push_back(video.name);
      continue;
    }
    video.lip_shape = lip_measures(read_openface_csv(csv));
    for (const auto& m : video.lip_shape) {
      if (std::isnan(m[0])) continue;
      for (int k = 0; k < kLipMeasures; ++k) {
        sum[k] += m[k];
        sum_sq[k] += m[k] * m[k];
      }
      ++count;
    }
  }
  if (count == 0) return missing;
  double mean[kLipMeasures], deviation[kLipMeasures];
  for (int k = 0; k < kLipMeasures; ++k) {
    mean[k] = sum[k] / count;
    deviation[k] = std::max(std::sqrt(std::max(sum_sq[k] / count - mean[k] * mean[k], 0.0)), 1e-4);
  }
  for (TrainingVideo& video : set.videos)
    for (auto& m : video.lip_shape)
      for (int k = 0; k < kLipMeasures; ++k) m[k] = static_cast<float>((m[k] - mean[k]) / deviation[k]);
  return missing;
}

at::Tensor lip_shape_targets(const TrainingSet& set, std::span<const SyncPair> pairs) {
  const int64_t b = static_cast<int64_t>(pairs.size());
  at::Tensor target = at::empty({b, 5 * kLipMeasures}, at::kFloat);
  float* out = target.data_ptr<float>();
  for (const SyncPair& pair : pairs) {
    const TrainingVideo& video = set.videos.at(pair.video);
    const int64_t first = video.clips.at(pair.clip).first_frame + 2;
    for (int64_t f = first; f < first + 5; ++f) {
      const bool known = f < static_cast<int64_t>(video.lip_shape.size());
      for (int k = 0; k < kLipMeasures; ++k) *out++ = known ? video.lip_shape[f][k] : kUnknown;
    }
  }
  return target;
}

at::Tensor lip_shape_loss(const at::Tensor& predicted, const at::Tensor& target) {
  const at::Tensor known = target.isfinite();
  const at::Tensor error = at::where(known, predicted - target.nan_to_num(0), at::zeros_like(predicted));
  return error.square().sum() / known.sum().clamp_min(1);
}

}  // namespace dinet::train
