#include "infer/video_faces.h"

#include <algorithm>
#include <cmath>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/media.h"
#include "dinet/progress.h"

namespace dinet::infer {
namespace fs = std::filesystem;

namespace {

LandmarkTrack csv_track(const fs::path& csv, const VideoInfo& info, bool smooth) {
  require_file(csv, "landmark file");
  LandmarkTrack track = read_openface_csv(csv);
  // frame_count is estimated from the duration, so allow a frame of rounding either way.
  if (std::llabs(static_cast<long long>(track.size()) - info.frame_count) > 1)
    throw Error(csv.string(), "has " + std::to_string(track.size()) + " frames of landmarks, but the video has " +
                                  std::to_string(info.frame_count) + " frames at 25 fps");
  // OpenFace places points to a pixel or two of jitter, which would shake the crop.
  fill_gaps(track, 10);
  if (smooth) smooth_track(track);
  return track;
}

}  // namespace

VideoFaces video_faces(const fs::path& video, const FaceOptions& options, const fs::path& landmark_model,
                       std::unique_ptr<LandmarkModel>& detector) {
  require_file(video, "source video");
  VideoFaces faces;
  VideoInfo info;
  {
    VideoReader probe(video);
    info = probe.info();
  }
  faces.frame_size = {info.width, info.height};
  if (!options.csv.empty()) {
    faces.track = csv_track(options.csv, info, options.smooth_csv);
  } else {
    if (!detector)
      detector = landmark_model.empty() ? std::make_unique<LandmarkModel>()
                                        : std::make_unique<LandmarkModel>(landmark_model);
    std::unique_ptr<Progress> progress;
    if (options.show_progress)
      progress = std::make_unique<Progress>("landmarks " + video.filename().string(), info.frame_count, "frames");
    faces.track = detect_video_landmarks(video, *detector, {}, progress.get()).track;
  }
  if (faces.track.size() == 0) throw Error(video.string(), "no frames");
  faces.windows = crop_windows(faces.track, options.windows);
  if (std::none_of(faces.windows.begin(), faces.windows.end(), [](const auto& w) { return w.has_value(); }))
    throw Error((options.csv.empty() ? video : options.csv).string(), "no face found in any frame");
  return faces;
}

}  // namespace dinet::infer
