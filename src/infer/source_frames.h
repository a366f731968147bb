// The source frames in the published output order: when the driving audio is longer than the
// video, the video plays forwards, then backwards, then forwards again, and so on
// (ping-pong); when it is shorter, the video is cut. Frames stream from the decoder; only
// for the ping-pong do they also go to a spill file (PNG, lossless) beside the output, read
// back in reverse, so memory stays the same whatever the length of the video.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "dinet/media.h"

namespace dinet::infer {

// The source frame shown at output frame t for a source of n frames.
int64_t ping_pong_index(int64_t t, int64_t n);

class SourceFrames {
 public:
  // `source_frames`: the frames the landmarks cover; the video must have them all.
  SourceFrames(const std::filesystem::path& video, int64_t source_frames, int64_t output_frames,
               const std::filesystem::path& spill_dir);
  ~SourceFrames();  // removes the spill file
  SourceFrames(const SourceFrames&) = delete;
  SourceFrames& operator=(const SourceFrames&) = delete;

  // The frame of the next output frame (0, 1, 2, ... in turn), CV_8UC3 BGR.
  cv::Mat next();
  int64_t position() const { return t_; }

 private:
  std::filesystem::path video_;
  int64_t n_, total_, t_ = 0;
  VideoReader reader_;
  std::filesystem::path spill_path_;
  std::fstream spill_;
  std::vector<std::pair<uint64_t, uint64_t>> records_;  // offset, size per source frame
};

}  // namespace dinet::infer
