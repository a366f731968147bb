// 68-point facial landmarks (iBUG / OpenFace / dlib order, 0-based) for every frame of a
// video, and the OpenFace CSV format the published DINet workflow uses to store them.
#pragma once

#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace dinet {

using FaceLandmarks = std::array<cv::Point2f, 68>;  // (x, y) in pixels, sub-pixel

struct LandmarkTrack {
  std::vector<FaceLandmarks> frames;  // one per video frame (25 fps)
  std::vector<uint8_t> success;       // 1 where a face was found or interpolated
  std::vector<float> confidence;      // 0..1
  size_t size() const { return frames.size(); }
};

// OpenFace 2 CSV: `frame, face_id, timestamp, confidence, success, x_0..x_67, y_0..y_67`
// (OpenFace's header spelling, frames numbered from 1), written atomically.
void write_openface_csv(const std::filesystem::path& path, const LandmarkTrack& track,
                        double fps = 25.0);
// Reads a real OpenFace CSV (extra columns allowed, columns found by header name) or ours.
// When `expected_frames` is given, a different row count is an error. Errors name the
// file and the line.
LandmarkTrack read_openface_csv(const std::filesystem::path& path,
                                std::optional<int64_t> expected_frames = std::nullopt);

}  // namespace dinet
