// The face in every frame of a source video: landmarks from an OpenFace CSV or detected,
// and the crop window of each frame.
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "dinet/crop.h"
#include "dinet/face.h"
#include "dinet/landmarks.h"

namespace dinet::infer {

struct VideoFaces {
  LandmarkTrack track;
  std::vector<std::optional<CropWindow>> windows;  // per frame; none where there is no face
  cv::Size frame_size;
  int64_t frames() const { return static_cast<int64_t>(track.size()); }
};

struct FaceOptions {
  std::filesystem::path csv;  // empty: detect
  WindowOptions windows;
  bool smooth_csv = true;
  bool show_progress = false;
};

// Throws dinet::Error naming the video when it has no face at all, and naming the CSV when
// its row count is not the video's frame count at 25 fps. `detector` is loaded on first use.
VideoFaces video_faces(const std::filesystem::path& video, const FaceOptions& options,
                       const std::filesystem::path& landmark_model,
                       std::unique_ptr<LandmarkModel>& detector);

}  // namespace dinet::infer
