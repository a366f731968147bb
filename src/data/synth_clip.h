// One synthetic talking-face clip: its audio, its exact landmarks and its frames, all
// fixed by one seed. Frames are drawn on demand so a long clip never sits in memory.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include "dinet/landmarks.h"
#include "dinet/media.h"
#include "synth_audio.h"
#include "synth_face.h"
#include "synth_render.h"

namespace dinet::synth {

inline constexpr double kFps = 25.0;
inline constexpr int kSampleRate = 16000;

class SynthClip {
 public:
  // `size`: frame size (at least 64x64); `frames` at 25 fps.
  SynthClip(cv::Size size, int frames, uint64_t seed);

  int frames() const { return static_cast<int>(mouth_.size()); }
  cv::Size size() const { return size_; }
  const Audio& audio() const { return audio_; }
  const std::vector<MouthShape>& mouth() const { return mouth_; }
  const LandmarkTrack& landmarks() const { return landmarks_; }  // frame pixels
  double face_width() const { return face_width_; }              // pixels, at rest

  // Frame `index` (CV_8UC3, BGR): the face with landmarks()[index], over the background.
  void render(int index, cv::Mat& bgr);

 private:
  cv::Size size_;
  Audio audio_;
  std::vector<MouthShape> mouth_;
  FaceIdentity face_;
  double face_width_ = 0;
  std::vector<FaceLandmarks> shapes_;     // face units, per frame
  std::vector<cv::Point2f> gaze_;         // per frame
  std::vector<cv::Matx23d> placement_;    // canvas -> frame, per frame
  LandmarkTrack landmarks_;
  Backdrop backdrop_;
  std::unique_ptr<FaceRenderer> renderer_;
};

}  // namespace dinet::synth
