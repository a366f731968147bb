// Crop radius and crop window (reference section 1), the published rule and the
// per-segment radius that replaces its rejection of videos whose face size changes.
#include <algorithm>
#include <cmath>

#include "dinet/crop.h"

namespace dinet {
namespace {

// numpy's astype(int): truncation toward zero.
FaceLandmarks truncated(const FaceLandmarks& landmarks) {
  FaceLandmarks out;
  for (size_t k = 0; k < landmarks.size(); ++k)
    out[k] = {std::trunc(landmarks[k].x), std::trunc(landmarks[k].y)};
  return out;
}

int radius_from_max(double max_radius) {
  // The published `(np.int(radius_max / 4) + 1) * 4`: always strictly above max_radius.
  return (static_cast<int>(std::floor(max_radius / 4)) + 1) * 4;
}

}  // namespace

double frame_radius(const FaceLandmarks& landmarks, double scale) {
  float max_y = landmarks[0].y;
  for (const auto& p : landmarks) max_y = std::max(max_y, p.y);
  // float -> double before multiplying: integer landmarks then give numpy's float64 products.
  const double rh = (double(max_y) - double(landmarks[29].y)) * scale;
  const double rw = (double(landmarks[54].x) - double(landmarks[48].x)) * scale;
  return std::floor(std::max(rh, rw) / 2);
}

int crop_radius(std::span<const FaceLandmarks> frames, double scale) {
  double max_radius = 0;
  for (const auto& f : frames) max_radius = std::max(max_radius, frame_radius(f, scale));
  return radius_from_max(max_radius);
}

std::optional<int> published_crop_radius(cv::Size video_size, std::span<const FaceLandmarks> frames,
                                         double scale) {
  if (frames.empty()) return std::nullopt;
  std::vector<FaceLandmarks> clip;
  for (const auto& f : frames) clip.push_back(truncated(f));
  double max_radius = -1e300, min_radius = 1e300;
  for (const auto& f : clip) {
    const double rad = frame_radius(f, scale);
    max_radius = std::max(max_radius, rad);
    min_radius = std::min(min_radius, rad);
  }
  const int radius = radius_from_max(max_radius);
  const int quarter = radius / 4;
  for (const auto& f : clip) {
    const double y29 = f[29].y, x33 = f[33].x;
    if (y29 - radius < 0 || x33 - radius - quarter < 0) return std::nullopt;
    if (y29 + 2 * radius + quarter > video_size.height) return std::nullopt;
    if (x33 + radius + quarter > video_size.width) return std::nullopt;
  }
  if (max_radius > min_radius * 1.5) return std::nullopt;
  return radius;
}

CropWindow crop_window(const FaceLandmarks& landmarks, int radius, bool integer_positions) {
  float x33 = landmarks[33].x, y29 = landmarks[29].y;
  if (integer_positions) x33 = std::trunc(x33), y29 = std::trunc(y29);
  const int quarter = radius / 4;
  return {cv::Rect2f(x33 - radius - quarter, y29 - radius, float(2 * radius + 2 * quarter),
                     float(3 * radius + quarter)),
          radius};
}

std::vector<RadiusSegment> radius_segments(const LandmarkTrack& track, double scale,
                                           double max_ratio) {
  std::vector<RadiusSegment> segments;
  int64_t begin = -1;
  double lo = 0, hi = 0;
  auto close = [&](int64_t end) {
    if (begin >= 0) segments.push_back({begin, end, radius_from_max(hi)});
    begin = -1;
  };
  for (int64_t t = 0; t < int64_t(track.size()); ++t) {
    if (!track.success[t]) {
      close(t);
      continue;
    }
    const double rad = frame_radius(track.frames[t], scale);
    if (begin >= 0 && std::max(hi, rad) > max_ratio * std::min(lo, rad)) close(t);
    if (begin < 0) {
      begin = t;
      lo = hi = rad;
    }
    lo = std::min(lo, rad);
    hi = std::max(hi, rad);
  }
  close(int64_t(track.size()));
  return segments;
}

std::vector<std::optional<CropWindow>> crop_windows(const LandmarkTrack& track,
                                                    const WindowOptions& options) {
  const int64_t n = int64_t(track.size());
  std::vector<FaceLandmarks> frames(track.frames);
  if (options.integer_positions)
    for (auto& f : frames) f = truncated(f);
  LandmarkTrack used{frames, track.success, track.confidence};

  std::vector<std::optional<CropWindow>> windows(n);
  for (const auto& seg : radius_segments(used, options.scale)) {
    for (int64_t t = seg.begin; t < seg.end; ++t) {
      int radius = seg.radius;
      if (!options.segment_radius) {
        // The published window: frames t-2 .. t+2 with the edge frames repeated (here the
        // edges of the run of frames with a face, as frames without one have no landmarks).
        std::vector<FaceLandmarks> clip;
        for (int64_t k = t - 2; k <= t + 2; ++k) {
          int64_t j = std::clamp<int64_t>(k, 0, n - 1);
          while (!track.success[j]) j += j < t ? 1 : -1;
          clip.push_back(frames[j]);
        }
        radius = crop_radius(clip, options.scale);
      }
      windows[t] = crop_window(frames[t], radius, options.integer_positions);
    }
  }
  return windows;
}

}  // namespace dinet
