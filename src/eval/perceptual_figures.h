// LPIPS and FID inside `dinet evaluate`: the networks the user gave weights for, and the
// per-video work (LPIPS per frame, Inception features for FID), batched as frames arrive.
#pragma once

#include <ATen/Tensor.h>
#include <opencv2/core.hpp>

#include <string>
#include <vector>

#include "dinet/evaluate.h"
#include "eval/fid_inception.h"
#include "eval/lpips.h"

namespace dinet::eval {

struct PerceptualNetworks {
  Lpips lpips{nullptr};               // null: LPIPS not computed, see lpips_absent
  FidInception inception{nullptr};    // null: FID not computed, see fid_absent
  std::string lpips_absent, fid_absent;
};

// Loads the networks the options name, so a bad weight file stops the run before any video
// is read. Throws dinet::Error naming the file or the option.
PerceptualNetworks load_perceptual_networks(const EvaluateOptions& options);

class PerceptualFrames {
 public:
  PerceptualFrames(PerceptualNetworks& networks, cv::Rect mouth);
  // One frame's face crops, (3, H, W) RGB in [0,1], the source's and the result's.
  void add(int64_t frame, const at::Tensor& source_face, const at::Tensor& result_face);
  // Runs what is left and fills the video's LPIPS figures (per frame over `frames`, NaN
  // where no face was added).
  void finish(VideoEvaluation& video, int64_t frames);
  // (N, 2048) pool3 features of the faces added; empty without the FID network.
  at::Tensor source_features() const;
  at::Tensor result_features() const;

 private:
  void run_batch();

  PerceptualNetworks& networks_;
  cv::Rect mouth_;
  std::vector<int64_t> batch_frames_;
  std::vector<at::Tensor> batch_sources_, batch_results_;
  std::vector<std::pair<int64_t, std::pair<double, double>>> lpips_;  // frame, (face, mouth)
  std::vector<at::Tensor> source_features_, result_features_;
};

// The mean of the finite values: a frame without a figure (no face found, say) holds NaN.
// NaN when none is finite. Every per-video figure of `dinet evaluate` is such a mean.
double mean_of_finite(const std::vector<double>& values);

}  // namespace dinet::eval
