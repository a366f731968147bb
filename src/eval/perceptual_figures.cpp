#include "eval/perceptual_figures.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <cmath>

#include "dinet/error.h"

namespace dinet::eval {
namespace {

// Frames per network call: Inception's early activations at 299x299 are ~10 MB per image.
constexpr size_t kBatchFrames = 8;

}  // namespace

double mean_of_finite(const std::vector<double>& values) {
  double sum = 0;
  int64_t n = 0;
  for (double v : values)
    if (std::isfinite(v)) sum += v, ++n;
  return n ? sum / n : std::nan("");
}

PerceptualNetworks load_perceptual_networks(const EvaluateOptions& options) {
  PerceptualNetworks networks;
  const bool heads = !options.lpips_weights.empty(), backbone = !options.lpips_backbone.empty();
  if (heads != backbone)
    throw Error(heads ? "--lpips_backbone" : "--lpips_weights",
                heads ? "required with --lpips_weights: torchvision's alexnet-owt-7be5be79.pth (or vgg16-397923af.pth)"
                      : "required with --lpips_backbone: the lpips package's alex.pth (or vgg.pth)");
  if (heads) networks.lpips = load_lpips(options.lpips_weights, options.lpips_backbone);
  else networks.lpips_absent = "no --lpips_weights/--lpips_backbone given";
  if (!options.fid_weights.empty()) networks.inception = load_fid_inception(options.fid_weights);
  else networks.fid_absent = "no --fid_weights given";
  return networks;
}

PerceptualFrames::PerceptualFrames(PerceptualNetworks& networks, cv::Rect mouth)
    : networks_(networks), mouth_(mouth) {}

void PerceptualFrames::add(int64_t frame, const at::Tensor& source_face, const at::Tensor& result_face) {
  if (!networks_.lpips && !networks_.inception) return;
  batch_frames_.push_back(frame);
  batch_sources_.push_back(source_face);
  batch_results_.push_back(result_face);
  if (batch_frames_.size() == kBatchFrames) run_batch();
}

void PerceptualFrames::run_batch() {
  if (batch_frames_.empty()) return;
  torch::NoGradGuard no_grad;
  const at::Tensor sources = at::stack(batch_sources_), results = at::stack(batch_results_);
  if (networks_.lpips) {
    const auto mouth = [this](const at::Tensor& faces) {
      return faces.slice(2, mouth_.y, mouth_.y + mouth_.height).slice(3, mouth_.x, mouth_.x + mouth_.width);
    };
    const at::Tensor face = networks_.lpips->forward(results, sources);
    const at::Tensor mouths = networks_.lpips->forward(mouth(results), mouth(sources));
    for (size_t i = 0; i < batch_frames_.size(); ++i)
      lpips_.push_back({batch_frames_[i], {face[i].item<double>(), mouths[i].item<double>()}});
  }
  if (networks_.inception) {
    source_features_.push_back(networks_.inception->forward(sources));
    result_features_.push_back(networks_.inception->forward(results));
  }
  batch_frames_.clear();
  batch_sources_.clear();
  batch_results_.clear();
}

void PerceptualFrames::finish(VideoEvaluation& video, int64_t frames) {
  run_batch();
  if (!networks_.lpips) return;
  video.lpips_face_by_frame.assign(frames, std::nan(""));
  std::vector<double> mouths;
  for (const auto& [frame, values] : lpips_) {
    video.lpips_face_by_frame[frame] = values.first;
    mouths.push_back(values.second);
  }
  video.lpips_face = mean_of_finite(video.lpips_face_by_frame);
  video.lpips_mouth = mean_of_finite(mouths);
}

at::Tensor PerceptualFrames::source_features() const {
  return source_features_.empty() ? at::Tensor() : at::cat(source_features_);
}

at::Tensor PerceptualFrames::result_features() const {
  return result_features_.empty() ? at::Tensor() : at::cat(result_features_);
}

}  // namespace dinet::eval
