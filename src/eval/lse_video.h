// LSE-C/LSE-D inside `dinet evaluate`: the face crops of one result video taken as its frames
// are read, the lip embeddings run every few windows (so only a handful of crops is held),
// then the audio of the video and the scores.
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "dinet/evaluate.h"
#include "dinet/landmarks.h"
#include "eval/lse_crop.h"
#include "eval/lse_syncnet.h"

namespace dinet::eval {

class LseVideo {
 public:
  // `result`: landmarks found in the result video (the face the published pipeline would
  // detect there); `source`: the source's, used where the result's face was not found (the
  // dubbed video keeps the source's head).
  LseVideo(LseSyncNet& net, const LandmarkTrack& result, const LandmarkTrack& source);
  // Frames in order from 0, BGR. A failure is kept for finish(), so the video's other
  // figures go on.
  void add(const cv::Mat& frame);
  // The scores with the audio of `media` (the result video). Throws dinet::Error when no
  // frame has a face, the video is shorter than the 13-frame median filter or its audio
  // shorter than one 5-frame window, or a crop failed.
  LseFigures finish(const std::filesystem::path& media);

 private:
  void run_windows();

  LseSyncNet& net_;
  std::vector<LseFaceBox> boxes_;
  int64_t frames_ = 0;
  std::string failure_;                // non-empty: why no figures
  std::vector<cv::Mat> pending_;       // crops whose windows have not run yet (and the 4 before)
  std::vector<at::Tensor> lip_;        // embeddings of the windows run so far
};

// The set's LSE-C and LSE-D: means over the videos that have them, as Wav2Lip's scripts
// average them; `absent` (non-empty: why nothing was computed) goes into lse_absent, as
// does the reason when no video has them.
void summarise_lse(Evaluation& evaluation, const std::string& absent);

}  // namespace dinet::eval
