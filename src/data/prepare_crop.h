// Internal to `dinet prepare`: cutting a stream of frames into the published training clips
// while the video is still being decoded, so no full frame ever goes to disk.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "dinet/landmarks.h"

namespace dinet::prepare {

// Landmarks of a video whose frames arrive one by one. Either given whole (a CSV), or
// tracked as the frames arrive, then gap-filled and smoothed as detect_video_landmarks does
// for a whole video. Filling and smoothing only look a bounded number of frames away, so
// the landmarks of a chunk of frames are final once `kContext` later frames are tracked:
// they are computed on the chunk plus kContext frames on each side. The smoother fits each
// frame's pose to the first frame of its run, so a window starting inside a run gives
// results that differ from the whole-video ones by hundredths of a pixel; every consumer
// (crops and the CSV) therefore takes the same chunks, and they agree exactly.
class StreamLandmarks {
 public:
  // Frames of context on each side. A frame's final landmarks depend on the gap it may sit
  // in (gaps up to 10 frames are filled) and on the smoother's reach (3 sigma, 9 frames for
  // the default sigma of 3), so 32 frames leave a wide margin.
  static constexpr int64_t kContext = 32;

  static StreamLandmarks given(LandmarkTrack track);
  // Final landmarks come in chunks [i * chunk, (i + 1) * chunk): the training clips.
  static StreamLandmarks tracked(int64_t chunk);

  // Tracked: the next frame; `cut` when the tracker saw a cut in the video at this frame.
  void add(const FaceLandmarks* landmarks, float confidence, bool cut);
  void finish() { complete_ = true; }  // no more frames
  int64_t known() const { return static_cast<int64_t>(raw_.size()); }
  // Whether the chunk [begin, end) has its final landmarks.
  bool ready(int64_t begin, int64_t end) const;
  // Final landmarks of the chunk [begin, end) (ready() must hold; begin a chunk boundary).
  LandmarkTrack finalized(int64_t begin, int64_t end) const;
  // Whether a cut falls inside (begin, end): such a clip mixes two shots.
  bool has_cut(int64_t begin, int64_t end) const;
  // Every frame's final landmarks, chunk by chunk (after finish()); `filled` counts the
  // frames without a face that were filled from their neighbours.
  LandmarkTrack whole(int64_t* filled = nullptr) const;

 private:
  LandmarkTrack raw_;
  std::vector<int64_t> cuts_;  // increasing frame indices
  int64_t chunk_ = 0;
  bool tracked_ = false, complete_ = false;
};

struct CropStats {
  int clips = 0;
  int rejected = 0;  // the face size changed more than 1.5x within the clip (published rule)
  int no_face = 0;   // a frame of the clip has no face
  int cut = 0;       // the clip spans a cut between two shots
};

// Keeps the frames of the clips not yet written and writes each clip once its frames and
// landmarks are in: `<dir>/<clip 6 digits>/<frame 6 digits>.<format>`, crops at the native
// size of their window, one random scale per clip as published.
class ClipWriter {
 public:
  ClipWriter(std::filesystem::path video_dir, int clip_length, uint64_t seed,
             std::string image_format, int jpeg_quality);
  // Frame `index` (frames arrive in order); the writer keeps it while a clip needs it.
  void push(int64_t index, cv::Mat frame);
  // Writes every clip that is complete: published end indices range(L, frame_length, L), so
  // clip i (frames [iL, iL+L)) needs frame iL+L to exist too. `frame_length` is the number
  // of frames known to exist so far (with a CSV, at most its row count).
  void write_ready(const StreamLandmarks& landmarks, int64_t frame_length);
  const CropStats& stats() const { return stats_; }

 private:
  void write_clip(int64_t clip, const LandmarkTrack& landmarks, double scale);

  std::filesystem::path dir_;
  int clip_length_;
  std::string extension_;
  std::vector<int> encode_params_;
  std::mt19937_64 random_;
  int64_t next_clip_ = 0;
  std::deque<std::pair<int64_t, cv::Mat>> frames_;
  CropStats stats_;
};

// The per-video seed: the run's seed mixed with the video's name (FNV-1a), so a video's
// crops do not depend on which other videos run or in which order.
uint64_t video_seed(uint64_t seed, const std::string& video);

}  // namespace dinet::prepare
