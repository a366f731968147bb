// Streaming landmarks and clip writing for `dinet prepare --crop_face` (see prepare_crop.h).
#include "prepare_crop.h"

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "dinet/crop.h"
#include "dinet/error.h"
#include "dinet/face.h"

namespace dinet::prepare {
namespace fs = std::filesystem;
namespace {

LandmarkTrack slice(const LandmarkTrack& track, int64_t begin, int64_t end) {
  LandmarkTrack out;
  out.frames.assign(track.frames.begin() + begin, track.frames.begin() + end);
  out.success.assign(track.success.begin() + begin, track.success.begin() + end);
  out.confidence.assign(track.confidence.begin() + begin, track.confidence.begin() + end);
  return out;
}

// Gap filling and smoothing as detect_video_landmarks does them for a whole video.
void finish_track(LandmarkTrack& track, const std::vector<int64_t>& cuts) {
  const LandmarkOptions options;
  fill_gaps(track, options.max_gap);
  if (options.smooth) smooth_track(track, options.smoothing, cuts);
}

std::string six_digits(int64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(n));
  return buf;
}

}  // namespace

StreamLandmarks StreamLandmarks::given(LandmarkTrack track) {
  StreamLandmarks s;
  s.raw_ = std::move(track);
  s.complete_ = true;
  return s;
}

StreamLandmarks StreamLandmarks::tracked(int64_t chunk) {
  StreamLandmarks s;
  s.tracked_ = true;
  s.chunk_ = chunk;
  return s;
}

void StreamLandmarks::add(const FaceLandmarks* landmarks, float confidence, bool cut) {
  if (cut) cuts_.push_back(known());
  raw_.frames.push_back(landmarks ? *landmarks : FaceLandmarks{});
  raw_.success.push_back(landmarks != nullptr);
  raw_.confidence.push_back(landmarks ? confidence : 0.0f);
}

bool StreamLandmarks::ready(int64_t begin, int64_t end) const {
  if (begin < 0 || end > known()) return false;
  return !tracked_ || complete_ || end + kContext <= known();
}

LandmarkTrack StreamLandmarks::finalized(int64_t begin, int64_t end) const {
  if (!tracked_) return slice(raw_, begin, end);
  // The window depends only on the chunk, never on how many frames were known when asked.
  const int64_t lo = std::max<int64_t>(0, begin - kContext);
  const int64_t hi = std::min(known(), end + kContext);
  LandmarkTrack window = slice(raw_, lo, hi);
  std::vector<int64_t> cuts;
  for (int64_t cut : cuts_)
    if (cut > lo && cut < hi) cuts.push_back(cut - lo);
  finish_track(window, cuts);
  return slice(window, begin - lo, end - lo);
}

bool StreamLandmarks::has_cut(int64_t begin, int64_t end) const {
  return std::any_of(cuts_.begin(), cuts_.end(), [&](int64_t c) { return c > begin && c < end; });
}

LandmarkTrack StreamLandmarks::whole(int64_t* filled) const {
  if (!tracked_) return raw_;
  LandmarkTrack track;
  for (int64_t begin = 0; begin < known(); begin += chunk_) {
    const LandmarkTrack part = finalized(begin, std::min(known(), begin + chunk_));
    track.frames.insert(track.frames.end(), part.frames.begin(), part.frames.end());
    track.success.insert(track.success.end(), part.success.begin(), part.success.end());
    track.confidence.insert(track.confidence.end(), part.confidence.begin(), part.confidence.end());
  }
  if (filled) {
    *filled = 0;
    for (size_t t = 0; t < track.size(); ++t) *filled += track.success[t] && !raw_.success[t];
  }
  return track;
}

uint64_t video_seed(uint64_t seed, const std::string& video) {
  uint64_t hash = 1469598103934665603ull ^ seed;
  for (unsigned char c : video) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

ClipWriter::ClipWriter(fs::path video_dir, int clip_length, uint64_t seed, std::string image_format,
                       int jpeg_quality)
    : dir_(std::move(video_dir)),
      clip_length_(clip_length),
      extension_("." + image_format),
      random_(seed) {
  if (image_format == "jpg") encode_params_ = {cv::IMWRITE_JPEG_QUALITY, jpeg_quality};
}

void ClipWriter::push(int64_t index, cv::Mat frame) {
  frames_.emplace_back(index, std::move(frame));
}

void ClipWriter::write_ready(const StreamLandmarks& landmarks, int64_t frame_length) {
  for (;;) {
    const int64_t begin = next_clip_ * clip_length_, end = begin + clip_length_;
    if (end >= frame_length || !landmarks.ready(begin, end)) return;
    // Drawn for every clip, as the published compute_crop_radius draws before any check:
    // clip i always gets the i-th number of the video's sequence.
    const double scale = 1.05 + std::generate_canonical<double, 53>(random_) / 10;
    if (landmarks.has_cut(begin, end))
      ++stats_.cut;
    else
      write_clip(next_clip_, landmarks.finalized(begin, end), scale);
    ++next_clip_;
    while (!frames_.empty() && frames_.front().first < end) frames_.pop_front();
  }
}

void ClipWriter::write_clip(int64_t clip, const LandmarkTrack& landmarks, double scale) {
  // The published crop truncates every landmark to an integer first (numpy astype(int)),
  // which keeps the crop window on whole pixels: the crop is a copy, not a resampling.
  std::vector<FaceLandmarks> points(landmarks.size());
  double min_radius = std::numeric_limits<double>::max(), max_radius = 0;
  for (size_t k = 0; k < landmarks.size(); ++k) {
    if (!landmarks.success[k]) {
      ++stats_.no_face;
      return;
    }
    for (size_t j = 0; j < points[k].size(); ++j)
      points[k][j] = {std::trunc(landmarks.frames[k][j].x), std::trunc(landmarks.frames[k][j].y)};
    const double radius = frame_radius(points[k], scale);
    min_radius = std::min(min_radius, radius);
    max_radius = std::max(max_radius, radius);
  }
  if (max_radius > min_radius * 1.5) {
    ++stats_.rejected;
    return;
  }
  const int radius = crop_radius(points, scale);
  const fs::path clip_dir = dir_ / six_digits(clip);
  fs::create_directories(clip_dir);
  const int64_t first = clip * clip_length_;
  for (size_t k = 0; k < points.size(); ++k) {
    const int64_t index = first + static_cast<int64_t>(k);
    // Kept frames are consecutive, from the first frame of the oldest unwritten clip.
    const cv::Mat& frame = frames_.at(static_cast<size_t>(index - frames_.front().first)).second;
    const CropWindow window = crop_window(points[k], radius, true);
    const cv::Size native(cvRound(window.rect.width), cvRound(window.rect.height));
    const fs::path file = clip_dir / (six_digits(index) + extension_);
    if (!cv::imwrite(file.string(), crop_face(frame, window, native), encode_params_))
      throw Error(file.string(), "cannot write the face crop");
  }
  ++stats_.clips;
}

}  // namespace dinet::prepare
