// Frame-to-frame face tracking: the detector finds the face once, then each frame's shape is
// predicted in a box derived from the previous frame's landmarks (about a millisecond), and
// the detector only checks now and then, in a small region around the face.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <deque>

#include "dinet/face.h"
#include "dlib_face.h"
#include "face_pose.h"

namespace dinet {

using face_detail::Detection;
using face_detail::fit_pose;
using face_detail::Pose;

namespace {

// dlib's detector scans an 80x80 window; faces smaller than that are not found.
constexpr double kDetectorWindow = 80;
// The size a face is scaled to for the verification scan, just above the window, and the
// scanned region around it (in face sizes): the scan is most of a tracked frame's cost.
constexpr double kVerifyFaceSize = 90;
constexpr double kVerifyRegion = 1.6;
// Largest misfit of the nose and eye corners to an affine copy of the face at its last
// detection (in units of the rigid points' RMS radius). On the test clips, head turns and
// nods reach 0.2; a shape bent out of a face's proportions does not stay below it.
constexpr double kMaxResidual = 0.35;
// Change of the face's thumbnail between frames (1 - correlation) above which the detector
// checks at once instead of at the next verify_interval. Head motion in the test clips
// stays below 0.25; a jump cut in one of them gives 0.52, a face that vanishes 1.
constexpr double kCutChange = 0.3;
// Frames whose rigid scale sizes the tracking box (their median).
constexpr size_t kScaleFrames = 9;

double iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  return inter > 0 ? inter / (a.area() + b.area() - inter) : 0.0;
}

// Detections in `region` of the frame, scaled by `zoom` for the detector, in frame pixels.
std::vector<Detection> detect_in(face_detail::HogDetector& detector, const cv::Mat& bgr,
                                 const cv::Rect& region, double zoom) {
  cv::Mat g;
  cv::cvtColor(bgr(region), g, cv::COLOR_BGR2GRAY);
  if (zoom != 1) cv::resize(g, g, cv::Size(), zoom, zoom, zoom < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  auto found = detector.detect(g);
  for (auto& d : found) {
    d.box = cv::Rect2f(float(d.box.x / zoom + region.x), float(d.box.y / zoom + region.y),
                       float(d.box.width / zoom), float(d.box.height / zoom));
  }
  return found;
}

// A 16x16 grey thumbnail of the box, mean removed: consecutive thumbnails of a tracked face
// correlate closely; a cut, or a face that left, decorrelates them.
cv::Mat thumbnail(const cv::Mat& bgr, const cv::Rect2f& box) {
  const cv::Rect region = cv::Rect(box) & cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (region.width < 4 || region.height < 4) return {};
  // Sampled at 32x32 then averaged 2x2: a twentieth of the cost of one INTER_AREA resize
  // of the whole box, and smooth enough for a correlation.
  cv::Mat small, grey, out;
  cv::resize(bgr(region), small, cv::Size(32, 32), 0, 0, cv::INTER_LINEAR);
  cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  cv::resize(grey, small, cv::Size(16, 16), 0, 0, cv::INTER_AREA);
  small.convertTo(out, CV_32F);
  return out - cv::mean(out)[0];
}

// 1 - the normalised correlation of two thumbnails: 0 for the same picture, 1 for unrelated.
double thumbnail_change(const cv::Mat& a, const cv::Mat& b) {
  if (a.empty() || b.empty()) return 1;
  const double energy = std::sqrt(a.dot(a) * b.dot(b));
  return energy > 0 ? 1 - a.dot(b) / energy : 1;
}

}  // namespace

struct FaceTracker::Impl {
  LandmarkModel model;
  TrackerOptions options;
  face_detail::HogDetector detector;

  std::optional<FaceLandmarks> last;  // the previous frame's face, while tracking
  std::optional<cv::Rect2f> last_box;  // kept after the face is lost, to prefer the same face
  face_detail::RigidShape reference;   // the rigid points at the last detection
  // The detector's box relative to the rigid points at the last detection (offset of its
  // centre and its size, in units of the rigid scale), so tracking boxes look like the
  // boxes the shape predictor was trained on.
  cv::Point2d box_offset;
  cv::Size2d box_size;
  // The rigid scale of the last few frames. The box takes their median: on a hard frame
  // (eyes shut, head thrown back) the predictor follows the box's size, and a box sized
  // from that frame alone can grow a little each frame until the shape covers the shoulders.
  std::deque<double> scales;
  cv::Mat last_thumbnail;  // the face's box in the previous frame
  int since_check = 0;
  int64_t detector_runs = 0;

  Impl(const LandmarkModel& m, const TrackerOptions& o) : model(m), options(o) {}

  double box_scale() const {
    std::vector<double> sorted(scales.begin(), scales.end());
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    return sorted[sorted.size() / 2];
  }

  cv::Rect2f box_from(const Pose& pose) const {
    const double scale = box_scale();
    const cv::Point2d c = pose.center + box_offset * scale;
    const double w = box_size.width * scale, h = box_size.height * scale;
    return {float(c.x - w / 2), float(c.y - h / 2), float(w), float(h)};
  }

  static float confidence(double residual) {
    return float(std::clamp(1 - residual / kMaxResidual, 0.0, 1.0));
  }

  // The detector's face where the tracker thinks the face is, if it sees one there.
  std::optional<Detection> verify(const cv::Mat& bgr, const cv::Rect2f& box) {
    const cv::Point2f c = (box.tl() + box.br()) * 0.5f;
    const float side = std::max(box.width, box.height);
    const float half = float(kVerifyRegion / 2) * side;
    const cv::Rect region = cv::Rect(cv::Rect2f(c.x - half, c.y - half, 2 * half, 2 * half)) &
                            cv::Rect(0, 0, bgr.cols, bgr.rows);
    if (region.width < 16 || region.height < 16) return std::nullopt;
    const double zoom = std::clamp(kVerifyFaceSize / side, 0.1, 2.0);
    for (const auto& d : detect_in(detector, bgr, region, zoom))
      if (iou(d.box, box) > 0.3) return d;
    return std::nullopt;
  }

  // Starts (or restarts) the track from a detector box.
  TrackedFace start(const cv::Mat& bgr, const cv::Rect2f& box) {
    const FaceLandmarks landmarks = face_detail::predict_shape(model, bgr, box);
    reference = face_detail::rigid_shape(landmarks);
    const Pose pose = fit_pose(landmarks, reference);
    const cv::Point2d centre(box.x + box.width / 2.0, box.y + box.height / 2.0);
    box_offset = (centre - pose.center) / pose.scale;
    box_size = {box.width / pose.scale, box.height / pose.scale};
    scales.assign(1, pose.scale);
    last_thumbnail = thumbnail(bgr, box);
    last = landmarks;
    last_box = box;
    since_check = 0;
    return {landmarks, 1.f, true};
  }

  std::optional<TrackedFace> detect(const cv::Mat& bgr) {
    const double min_face = options.min_face_fraction * std::min(bgr.cols, bgr.rows);
    const double zoom = std::min(1.0, kDetectorWindow / std::max(min_face, 1.0));
    ++detector_runs;
    const auto found = detect_in(detector, bgr, cv::Rect(0, 0, bgr.cols, bgr.rows), zoom);
    if (found.empty()) return std::nullopt;
    // The face that continues the track, else the largest.
    const Detection* best = &*std::max_element(found.begin(), found.end(), [](const auto& a, const auto& b) {
      return a.box.area() < b.box.area();
    });
    double best_overlap = 0.2;
    for (const auto& d : found)
      if (last_box && iou(d.box, *last_box) > best_overlap) best = &d, best_overlap = iou(d.box, *last_box);
    return start(bgr, best->box);
  }

  std::optional<TrackedFace> track(const cv::Mat& bgr) {
    if (!last) return detect(bgr);
    const Pose previous = fit_pose(*last, reference);
    const cv::Rect2f box = box_from(previous);
    const cv::Mat now = thumbnail(bgr, box);
    const bool cut = thumbnail_change(now, last_thumbnail) > kCutChange;
    last_thumbnail = now;
    if (++since_check >= options.verify_interval || cut) {
      since_check = 0;
      const auto seen = verify(bgr, box);
      if (!seen) {
        last.reset();
        return detect(bgr);
      }
      // After a cut the previous shape is no guide. Otherwise the detector's box size is
      // coarse (its pyramid steps by 20 %), but far enough from the tracked size it means
      // the track has drifted. Either way: restart from the detector.
      const double ratio = seen->box.width / box.width;
      if (cut || ratio < 0.8 || ratio > 1.25) {
        TrackedFace face = start(bgr, seen->box);
        face.cut = cut;
        return face;
      }
    }
    const FaceLandmarks landmarks = face_detail::predict_shape(model, bgr, box);
    const Pose pose = fit_pose(landmarks, reference);
    const double residual = face_detail::affine_residual(landmarks, reference);
    const double growth = pose.scale / box_scale();
    const double moved = cv::norm(pose.center - previous.center) / previous.scale;
    if (residual >= kMaxResidual || growth < 0.8 || growth > 1.25 || moved > 1.0) {
      last.reset();  // implausible: find the face afresh
      return detect(bgr);
    }
    last = landmarks;
    last_box = box;
    scales.push_back(pose.scale);
    if (scales.size() > kScaleFrames) scales.pop_front();
    return TrackedFace{landmarks, confidence(residual), false};
  }
};

FaceTracker::FaceTracker(const LandmarkModel& model, const TrackerOptions& options)
    : impl_(std::make_unique<Impl>(model, options)) {}
FaceTracker::~FaceTracker() = default;

std::optional<TrackedFace> FaceTracker::track(const cv::Mat& bgr) {
  CV_Assert(bgr.type() == CV_8UC3);
  return impl_->track(bgr);
}

int64_t FaceTracker::detector_runs() const { return impl_->detector_runs; }

}  // namespace dinet
