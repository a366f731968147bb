// 68-point landmarks for every frame of a video: dlib's HOG frontal face detector finds the
// face, dlib's 68-point shape predictor places the points, and the face is then tracked
// (each frame's shape predicted in a box derived from the previous frame's landmarks, the
// detector only checking now and then), so most frames cost one shape prediction. Whole
// videos are processed offline, so short gaps are interpolated and jitter is removed with a
// zero-lag smoother afterwards.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "dinet/landmarks.h"

namespace dinet {

class Progress;

// Debian's libdlib-data: /usr/share/dlib/shape_predictor_68_face_landmarks.dat.
std::filesystem::path default_landmark_model();

// The 68-point shape predictor, loaded once (one to two seconds, 100 MB) and shared: copies
// are cheap handles, and one model serves trackers on several threads.
class LandmarkModel {
 public:
  // Throws dinet::Error naming the path when the file is missing or is not a dlib model.
  explicit LandmarkModel(const std::filesystem::path& path = default_landmark_model());
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

struct TrackerOptions {
  // Frames between detector checks (in a small region around the face) that the tracked
  // face is still a face. A sudden change of the picture around it triggers one at once.
  int verify_interval = 10;
  // Smallest face to find, as a fraction of the frame's shorter side. The full-frame
  // detector runs on the frame downscaled until such a face meets dlib's 80-pixel window,
  // which keeps a 1080x1920 frame affordable.
  double min_face_fraction = 0.12;
};

struct TrackedFace {
  FaceLandmarks landmarks;
  // 0..1: how well the nose and eye corners fit an affine copy of the face at its last
  // detection; head turns and nods lower it to about 0.3.
  float confidence = 0;
  bool detected = false;  // the track (re)started from a detection on this frame
  bool cut = false;       // the picture around the face changed at once (a cut in the video)
};

// Follows one face through consecutive frames of one video. Not thread-safe; one per video.
class FaceTracker {
 public:
  explicit FaceTracker(const LandmarkModel& model, const TrackerOptions& options = {});
  ~FaceTracker();
  FaceTracker(const FaceTracker&) = delete;
  FaceTracker& operator=(const FaceTracker&) = delete;

  // The next frame (CV_8UC3, BGR). nullopt when no face is found. With several faces the
  // one continuing the track wins, otherwise the largest.
  std::optional<TrackedFace> track(const cv::Mat& bgr);
  int64_t detector_runs() const;  // full-frame detections so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Zero-lag smoothing: local quadratic regression with Gaussian weights (sigma in frames),
// symmetric in time, so nothing lags. The rigid head pose (position, scale, roll, from the
// nose and eye corners) and the face's own shape are smoothed separately, the mouth and
// lower jaw least, so speech keeps its motion. At 25 fps the gain is, by sigma:
//   0.8: 1.00 at 3 Hz, 0.96 at 4 Hz, 0.84 at 6 Hz (lips: syllables come at 4-5 Hz);
//   1.5: 0.97 at 2 Hz, 0.87 at 3 Hz, 0.28 at 6 Hz (head motion is mostly below 2 Hz);
//   3.0: 0.97 at 1 Hz, 0.72 at 2 Hz (eyes, brows and nose barely move in the face).
// 0 leaves a part as it is.
struct SmoothingOptions {
  double pose_sigma = 1.5;
  double shape_sigma = 3.0;  // eyes, brows, nose, upper jaw in the face's own frame
  double mouth_sigma = 0.8;  // mouth and lower jaw (points 3-13, 48-67) in the face's frame
};

struct FrameRange {
  int64_t begin = 0, end = 0;  // [begin, end)
  int64_t size() const { return end - begin; }
};

struct LandmarkOptions {
  TrackerOptions tracker;
  int max_gap = 10;      // longer runs without a face stay gaps (success 0)
  bool smooth = true;
  SmoothingOptions smoothing;
  // 1: decode and track in turn; 2 or more: decoding runs on its own thread.
  int threads = 2;
};

struct VideoLandmarks {
  LandmarkTrack track;
  std::vector<int64_t> cuts;     // frames where the tracker saw a cut (smoothing stops there)
  std::vector<FrameRange> gaps;  // frames still without a face after filling short gaps
  int64_t found = 0;             // frames where the tracker found the face
  int64_t interpolated = 0;      // frames filled by interpolation (success 1, lower confidence)
  int64_t detector_runs = 0;
  double jitter_before = 0, jitter_after = 0;  // landmark_jitter before and after smoothing
};

// Landmarks for every frame of `video` at 25 fps. `progress`, when given, advances once per
// frame. Throws dinet::Error naming the video when it cannot be read.
VideoLandmarks detect_video_landmarks(const std::filesystem::path& video, const LandmarkModel& model,
                                      const LandmarkOptions& options = {},
                                      Progress* progress = nullptr);

// Fills runs of at most `max_gap` frames with success 0: linearly between the faces on either
// side, or by repeating the nearest face at the ends of the video. Filled frames get success
// 1 and half the confidence of their neighbours. Returns the runs left unfilled.
std::vector<FrameRange> fill_gaps(LandmarkTrack& track, int max_gap, int64_t* filled = nullptr);

// Smooths each run of consecutive frames with success 1 (see SmoothingOptions); a frame in
// `cuts` (increasing) starts a new run, so no smoothing blends two shots.
void smooth_track(LandmarkTrack& track, const SmoothingOptions& options = {},
                  const std::vector<int64_t>& cuts = {});

// Jitter in pixels: the mean length of the second difference over time of the nose and
// eye-corner points (27-30, 33, 36, 39, 42, 45), which barely move in talking-head footage,
// taken over triples of consecutive frames with success 1.
double landmark_jitter(const LandmarkTrack& track);

}  // namespace dinet
