#include "eval/lse_video.h"

#include <ATen/ATen.h>

#include "dinet/error.h"
#include "dinet/media.h"
#include "eval/lse_mfcc.h"
#include "eval/lse_score.h"

namespace dinet::eval {
namespace {

constexpr size_t kWindowsPerRun = 20;

LandmarkTrack result_or_source(const LandmarkTrack& result, const LandmarkTrack& source) {
  LandmarkTrack track = result;
  for (size_t i = 0; i < track.size() && i < source.size(); ++i)
    if (!track.success[i] && source.success[i]) {
      track.frames[i] = source.frames[i];
      track.success[i] = 1;
    }
  return track;
}

}  // namespace

LseVideo::LseVideo(LseSyncNet& net, const LandmarkTrack& result, const LandmarkTrack& source)
    : net_(net), boxes_(lse_face_boxes(result_or_source(result, source))) {
  if (boxes_.empty()) failure_ = "no face found for the LSE crop";
  else if (boxes_.size() < kLseMedianFrames)
    failure_ = "LSE needs at least " + std::to_string(kLseMedianFrames) + " frames (its face boxes are "
               "median-filtered over " + std::to_string(kLseMedianFrames) + "), the video has " +
               std::to_string(boxes_.size());
}

void LseVideo::add(const cv::Mat& frame) {
  if (!failure_.empty() || frames_ >= static_cast<int64_t>(boxes_.size())) return;
  try {
    pending_.push_back(lse_crop(frame, boxes_[frames_++]));
    if (pending_.size() >= kWindowsPerRun + kLseWindowFrames - 1) run_windows();
  } catch (const Error& e) {
    failure_ = e.what();
  }
}

void LseVideo::run_windows() {
  const at::Tensor lip = lse_lip_embeddings(net_, pending_);
  if (lip.size(0) > 0) lip_.push_back(lip);
  // The last 4 crops begin the next windows.
  if (pending_.size() >= kLseWindowFrames)
    pending_.erase(pending_.begin(), pending_.end() - (kLseWindowFrames - 1));
}

LseFigures LseVideo::finish(const std::filesystem::path& media) {
  if (!failure_.empty()) throw Error(failure_);
  run_windows();
  const std::vector<int16_t> pcm = lse_pcm(load_audio(media));
  const int64_t windows = lse_window_count(frames_, static_cast<int64_t>(pcm.size()));
  if (windows <= 0 || lip_.empty())
    throw Error("LSE needs at least 6 frames of video and audio (" + std::to_string(frames_) + " frames, " +
                std::to_string(pcm.size()) + " samples)");
  const at::Tensor lip = at::cat(lip_).slice(0, 0, windows);
  return lse_figures({lip, lse_audio_embeddings(net_, lse_mfcc(pcm), windows)});
}

void summarise_lse(Evaluation& evaluation, const std::string& absent) {
  evaluation.lse_absent = absent;
  if (!absent.empty()) return;
  double c = 0, d = 0;
  evaluation.lse_videos = 0;
  for (const VideoEvaluation& v : evaluation.videos)
    if (v.lse) {
      c += v.lse->confidence;
      d += v.lse->distance;
      ++evaluation.lse_videos;
    }
  if (evaluation.lse_videos == 0) {
    evaluation.lse_absent = "no video could be scored (see each video's note)";
    return;
  }
  evaluation.lse_c = c / evaluation.lse_videos;
  evaluation.lse_d = d / evaluation.lse_videos;
}

}  // namespace dinet::eval
