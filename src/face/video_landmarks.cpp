// Landmarks for a whole video: decode, track, fill short gaps, smooth.
//
// Tracking is sequential (each frame starts from the previous one), so the parallelism is a
// pipeline: one thread decodes while the other tracks, which on two cores hides the decoding.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "dinet/face.h"
#include "dinet/interrupt.h"
#include "dinet/media.h"
#include "dinet/progress.h"

namespace dinet {
namespace {

// Decoded frames waiting for the tracker. Bounded, so memory does not grow with the video.
class FrameQueue {
 public:
  explicit FrameQueue(size_t capacity) : capacity_(capacity) {}

  void push(cv::Mat frame) {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return frames_.size() < capacity_ || closed_; });
    if (closed_) return;
    frames_.push_back(std::move(frame));
    ready_.notify_one();
  }
  // False once the producer has finished and every frame was taken.
  bool pop(cv::Mat& frame) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !frames_.empty() || done_; });
    if (frames_.empty()) return false;
    frame = std::move(frames_.front());
    frames_.pop_front();
    room_.notify_one();
    return true;
  }
  void finish(std::exception_ptr error = nullptr) {
    std::lock_guard lock(mutex_);
    done_ = true;
    error_ = error;
    ready_.notify_all();
  }
  // The consumer gives up (an exception): unblock the producer.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    room_.notify_all();
  }
  std::exception_ptr error() {
    std::lock_guard lock(mutex_);
    return error_;
  }
  bool closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  size_t capacity_;
  std::deque<cv::Mat> frames_;
  bool done_ = false, closed_ = false;
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
};

// Calls `consume` on every frame of the video, decoding on another thread when `threads` > 1.
template <typename Consume>
void for_each_frame(VideoReader& reader, int threads, Consume consume) {
  if (threads <= 1) {
    for (cv::Mat frame; reader.read(frame);) consume(frame);
    return;
  }
  FrameQueue queue(8);
  std::thread decoder([&] {
    try {
      for (;;) {
        cv::Mat frame;  // a fresh buffer each time: the queue still holds the previous one
        if (queue.closed() || !reader.read(frame)) break;
        queue.push(std::move(frame));
      }
      queue.finish();
    } catch (...) {
      queue.finish(std::current_exception());
    }
  });
  try {
    for (cv::Mat frame; queue.pop(frame);) consume(frame);
  } catch (...) {
    queue.close();
    decoder.join();
    throw;
  }
  decoder.join();
  if (auto error = queue.error()) std::rethrow_exception(error);
}

}  // namespace

VideoLandmarks detect_video_landmarks(const std::filesystem::path& video, const LandmarkModel& model,
                                      const LandmarkOptions& options, Progress* progress) {
  VideoReader reader(video);
  FaceTracker tracker(model, options.tracker);
  VideoLandmarks result;
  LandmarkTrack& track = result.track;
  track.frames.reserve(size_t(std::max<int64_t>(reader.info().frame_count, 0)));
  for_each_frame(reader, options.threads, [&](const cv::Mat& frame) {
    throw_if_interrupted();  // detection takes a while per frame: Ctrl-C stops between frames
    const auto face = tracker.track(frame);
    if (face && face->cut) result.cuts.push_back(int64_t(track.size()));
    track.frames.push_back(face ? face->landmarks : FaceLandmarks{});
    track.success.push_back(face ? 1 : 0);
    track.confidence.push_back(face ? face->confidence : 0.f);
    if (progress) progress->advance();
  });
  result.detector_runs = tracker.detector_runs();
  const std::vector<uint8_t> found = track.success;
  result.found = std::count(found.begin(), found.end(), uint8_t(1));
  result.jitter_before = landmark_jitter(track);
  result.gaps = fill_gaps(track, options.max_gap, &result.interpolated);
  if (options.smooth) smooth_track(track, options.smoothing, result.cuts);
  // Measured on the frames the tracker found, as before: interpolated frames are straight
  // lines and would flatter the number.
  LandmarkTrack measured{track.frames, found, track.confidence};
  result.jitter_after = landmark_jitter(measured);
  return result;
}

}  // namespace dinet
