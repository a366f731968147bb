// Offline clean-up of a landmark track: short gaps filled, jitter removed without lag.
//
// Each frame's landmarks are split into the rigid head pose (centre, scale, roll of the
// nose and eye corners) and the shape in the face's own frame. The pose is smoothed over
// a few frames; the shape's static parts (eyes, brows, nose, upper jaw) strongly, the mouth
// and lower jaw lightly, because they carry the speech. Every series is smoothed by local
// quadratic regression with Gaussian weights: symmetric in time, so nothing lags, and
// exact on quadratic motion, so peaks of real motion are not flattened much.
#include <algorithm>
#include <cmath>

#include "dinet/face.h"
#include "face_pose.h"

namespace dinet {
namespace {

using face_detail::fit_pose;
using face_detail::Pose;

bool moves_with_speech(int k) { return k >= 48 || (k >= 3 && k <= 13); }

// Weights c such that sum_k c[k] y[k] is the value at `t` of the quadratic fitted by
// Gaussian-weighted least squares to y over [lo, hi].
std::vector<double> local_quadratic_weights(int64_t t, int64_t lo, int64_t hi, double sigma) {
  const size_t n = size_t(hi - lo + 1);
  std::vector<double> w(n);
  double m[5] = {0, 0, 0, 0, 0};  // moments sum w d^j
  for (size_t i = 0; i < n; ++i) {
    const double d = double(lo + int64_t(i) - t);
    w[i] = std::exp(-0.5 * d * d / (sigma * sigma));
    double dj = 1;
    for (int j = 0; j < 5; ++j, dj *= d) m[j] += w[i] * dj;
  }
  // First row of the inverse of [[m0 m1 m2] [m1 m2 m3] [m2 m3 m4]] (cofactors).
  double r0 = m[2] * m[4] - m[3] * m[3], r1 = m[2] * m[3] - m[1] * m[4], r2 = m[1] * m[3] - m[2] * m[2];
  double det = m[0] * r0 + m[1] * r1 + m[2] * r2;
  if (det <= 1e-12 * m[0] * m[2] * m[4]) {
    // Too few frames for a quadratic: a straight line, or the frame itself when alone.
    const double line_det = m[0] * m[2] - m[1] * m[1];
    if (std::abs(line_det) < 1e-12) r0 = 1, r1 = r2 = 0, det = m[0];
    else r0 = m[2], r1 = -m[1], r2 = 0, det = line_det;
  }
  for (size_t i = 0; i < n; ++i) {
    const double d = double(lo + int64_t(i) - t);
    w[i] *= (r0 + r1 * d + r2 * d * d) / det;
  }
  return w;
}

// Smooths series of `frames` values, one after another with the same weights where the
// sigma is the same: the weights depend only on where a frame sits in the run.
class RunSmoother {
 public:
  explicit RunSmoother(int64_t frames) : frames_(frames) {}
  void smooth(std::vector<double>& series, double sigma) {
    if (sigma <= 0) return;
    const int64_t reach = int64_t(std::ceil(3 * sigma));
    std::vector<double> out(series.size());
    for (int64_t t = 0; t < frames_; ++t) {
      const int64_t lo = std::max<int64_t>(0, t - reach), hi = std::min(frames_ - 1, t + reach);
      const auto& w = weights(t, lo, hi, sigma);
      double v = 0;
      for (int64_t k = lo; k <= hi; ++k) v += w[size_t(k - lo)] * series[size_t(k)];
      out[size_t(t)] = v;
    }
    series = std::move(out);
  }

 private:
  // Interior frames share one set of weights; only the frames near the run's ends differ.
  const std::vector<double>& weights(int64_t t, int64_t lo, int64_t hi, double sigma) {
    const int64_t reach = int64_t(std::ceil(3 * sigma));
    const bool interior = t - lo == reach && hi - t == reach;
    if (interior && sigma == interior_sigma_) return interior_;
    scratch_ = local_quadratic_weights(t, lo, hi, sigma);
    if (interior) interior_ = scratch_, interior_sigma_ = sigma;
    return scratch_;
  }
  int64_t frames_;
  std::vector<double> interior_, scratch_;
  double interior_sigma_ = -1;
};

void smooth_run(LandmarkTrack& track, int64_t begin, int64_t end, const SmoothingOptions& o) {
  const size_t n = size_t(end - begin);
  const auto reference = face_detail::rigid_shape(track.frames[size_t(begin)]);
  std::vector<double> cx(n), cy(n), log_scale(n), angle(n);
  std::vector<std::vector<double>> local(68 * 2, std::vector<double>(n));
  for (size_t i = 0; i < n; ++i) {
    const FaceLandmarks& f = track.frames[size_t(begin) + i];
    const Pose pose = fit_pose(f, reference);
    cx[i] = pose.center.x, cy[i] = pose.center.y, log_scale[i] = std::log(pose.scale);
    // Unwrapped, so a roll through +-pi does not jump.
    angle[i] = i ? angle[i - 1] + std::remainder(pose.angle - angle[i - 1], 2 * M_PI) : pose.angle;
    const double c = std::cos(-pose.angle) / pose.scale, s = std::sin(-pose.angle) / pose.scale;
    for (int k = 0; k < 68; ++k) {
      const double dx = f[k].x - pose.center.x, dy = f[k].y - pose.center.y;
      local[2 * k][i] = c * dx - s * dy;
      local[2 * k + 1][i] = s * dx + c * dy;
    }
  }
  RunSmoother smoother{int64_t(n)};
  for (auto* series : {&cx, &cy, &log_scale, &angle}) smoother.smooth(*series, o.pose_sigma);
  for (int k = 0; k < 68; ++k)
    for (int axis = 0; axis < 2; ++axis)
      smoother.smooth(local[2 * k + axis], moves_with_speech(k) ? o.mouth_sigma : o.shape_sigma);
  for (size_t i = 0; i < n; ++i) {
    const double scale = std::exp(log_scale[i]);
    const double c = std::cos(angle[i]) * scale, s = std::sin(angle[i]) * scale;
    FaceLandmarks& f = track.frames[size_t(begin) + i];
    for (int k = 0; k < 68; ++k) {
      const double lx = local[2 * k][i], ly = local[2 * k + 1][i];
      f[k] = {float(cx[i] + c * lx - s * ly), float(cy[i] + s * lx + c * ly)};
    }
  }
}

std::vector<FrameRange> runs_of(const LandmarkTrack& track, uint8_t value) {
  std::vector<FrameRange> runs;
  const int64_t n = int64_t(track.size());
  for (int64_t t = 0; t < n;) {
    if (bool(track.success[size_t(t)]) != bool(value)) {
      ++t;
      continue;
    }
    int64_t end = t;
    while (end < n && bool(track.success[size_t(end)]) == bool(value)) ++end;
    runs.push_back({t, end});
    t = end;
  }
  return runs;
}

}  // namespace

std::vector<FrameRange> fill_gaps(LandmarkTrack& track, int max_gap, int64_t* filled) {
  const int64_t n = int64_t(track.size());
  track.confidence.resize(size_t(n), 0.f);
  std::vector<FrameRange> left;
  for (const FrameRange gap : runs_of(track, 0)) {
    const bool before = gap.begin > 0, after = gap.end < n;
    if (gap.size() > max_gap || (!before && !after)) {
      left.push_back(gap);
      continue;
    }
    const size_t a = size_t(before ? gap.begin - 1 : gap.end), b = size_t(after ? gap.end : gap.begin - 1);
    const float confidence = 0.5f * std::min(track.confidence[a], track.confidence[b]);
    for (int64_t t = gap.begin; t < gap.end; ++t) {
      // Linear between the faces on both sides; the nearest face at the video's ends.
      const float w = before && after ? float(t - gap.begin + 1) / float(gap.size() + 1) : 0.f;
      for (int k = 0; k < 68; ++k) track.frames[size_t(t)][k] = track.frames[a][k] * (1 - w) + track.frames[b][k] * w;
      track.success[size_t(t)] = 1;
      track.confidence[size_t(t)] = confidence;
    }
    if (filled) *filled += gap.size();
  }
  return left;
}

void smooth_track(LandmarkTrack& track, const SmoothingOptions& options,
                  const std::vector<int64_t>& cuts) {
  for (const FrameRange run : runs_of(track, 1)) {
    int64_t begin = run.begin;
    for (int64_t cut : cuts) {  // in increasing order
      if (cut <= begin || cut >= run.end) continue;
      smooth_run(track, begin, cut, options);
      begin = cut;
    }
    smooth_run(track, begin, run.end, options);
  }
}

double landmark_jitter(const LandmarkTrack& track) {
  static constexpr int kStill[] = {27, 28, 29, 30, 33, 36, 39, 42, 45};
  double sum = 0;
  int64_t count = 0;
  for (size_t t = 1; t + 1 < track.size(); ++t) {
    if (!track.success[t - 1] || !track.success[t] || !track.success[t + 1]) continue;
    for (int k : kStill) {
      const cv::Point2f d = track.frames[t + 1][k] - 2 * track.frames[t][k] + track.frames[t - 1][k];
      sum += std::hypot(d.x, d.y);
      ++count;
    }
  }
  return count ? sum / double(count) : 0.0;
}

}  // namespace dinet
