#include "eval/lse_score.h"

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "dinet/error.h"
#include "eval/lse_mfcc.h"

namespace dinet::eval {
namespace {

// SyncNetInstance's batch size. BatchNorm runs on its running statistics, so the batch
// changes nothing but the memory held: 20 windows of 5 frames are 60 MB of float input.
constexpr int64_t kBatch = 20;

}  // namespace

int64_t lse_window_count(int64_t frames, int64_t samples) {
  return std::max<int64_t>(0, std::min(frames, samples / kLseSamplesPerFrame) - kLseWindowFrames);
}

at::Tensor lse_lip_embeddings(LseSyncNet& net, std::span<const cv::Mat> crops) {
  const int64_t windows = static_cast<int64_t>(crops.size()) - (kLseWindowFrames - 1);
  if (windows <= 0) return at::empty({0, kLseEmbedding});
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> lip;
  for (int64_t start = 0; start < windows; start += kBatch) {
    const int64_t n = std::min(kBatch, windows - start);
    std::vector<at::Tensor> frames;
    for (int64_t f = start; f < start + n + kLseWindowFrames - 1; ++f) {
      const cv::Mat& crop = crops[f];
      if (crop.type() != CV_8UC3 || crop.rows != kLseCropSize || crop.cols != kLseCropSize || !crop.isContinuous())
        throw Error("LSE: face crop " + std::to_string(f) + " is not a 224x224 8-bit BGR image");
      frames.push_back(torch::from_blob(crop.data, {kLseCropSize, kLseCropSize, 3}, torch::kUInt8));
    }
    // (3, T, H, W): BGR as cv2.imread gives it, float 0..255, as SyncNetInstance feeds it.
    const at::Tensor clip = torch::stack(frames).to(torch::kFloat).permute({3, 0, 1, 2});
    std::vector<at::Tensor> inputs;
    for (int64_t i = 0; i < n; ++i) inputs.push_back(clip.slice(1, i, i + kLseWindowFrames));
    lip.push_back(net->forward_lip(torch::stack(inputs)));
  }
  return at::cat(lip);
}

at::Tensor lse_audio_embeddings(LseSyncNet& net, const at::Tensor& mfcc, int64_t windows) {
  if (mfcc.dim() != 2 || mfcc.size(0) != kLseCepstra ||
      mfcc.size(1) < kLseMfccPerFrame * (windows - 1) + kLseMfccWindow)
    throw Error("LSE: MFCC of shape " + std::to_string(mfcc.size(0)) + " x " + std::to_string(mfcc.size(1)) +
                " too short for " + std::to_string(windows) + " windows");
  torch::NoGradGuard no_grad;
  const at::Tensor coefficients = mfcc.to(at::kFloat).contiguous();
  std::vector<at::Tensor> audio;
  for (int64_t start = 0; start < windows; start += kBatch) {
    std::vector<at::Tensor> inputs;
    for (int64_t i = start; i < std::min(windows, start + kBatch); ++i)
      inputs.push_back(coefficients.slice(1, kLseMfccPerFrame * i, kLseMfccPerFrame * i + kLseMfccWindow).unsqueeze(0));
    audio.push_back(net->forward_aud(torch::stack(inputs)));
  }
  return at::cat(audio);
}

LseEmbeddings lse_embeddings(LseSyncNet& net, const std::vector<cv::Mat>& crops, const at::Tensor& mfcc,
                             int64_t windows) {
  if (windows <= 0) throw Error("LSE: too short for one 5-frame window of video and audio");
  if (static_cast<int64_t>(crops.size()) < windows + kLseWindowFrames - 1)
    throw Error("LSE: " + std::to_string(crops.size()) + " face crops for " + std::to_string(windows) + " windows");
  return {lse_lip_embeddings(net, std::span(crops).first(windows + kLseWindowFrames - 1)),
          lse_audio_embeddings(net, mfcc, windows)};
}

LseFigures lse_figures(const LseEmbeddings& embeddings) {
  const int64_t n = embeddings.lip.size(0);
  if (n == 0 || embeddings.audio.size(0) != n) throw Error("LSE: no windows to score");
  // calc_pdist: window i against audio windows i - 15 .. i + 15, zeros beyond the ends.
  const at::Tensor padded = at::constant_pad_nd(embeddings.audio, {0, 0, kLseMaxShift, kLseMaxShift});
  std::vector<at::Tensor> by_shift;
  for (int64_t k = 0; k <= 2 * kLseMaxShift; ++k)
    by_shift.push_back(at::pairwise_distance(embeddings.lip, padded.slice(0, k, k + n), 2, 1e-6).mean());
  // In float32, like torch.mean / torch.min / torch.median in run_syncnet.py; torch.min
  // takes the first least value and torch.median the lower middle one (31 values: the 16th).
  const at::Tensor mdist = at::stack(by_shift);
  const int64_t least = mdist.argmin().item<int64_t>();
  LseFigures out;
  out.offset = static_cast<int>(kLseMaxShift - least);
  out.distance = mdist[least].item<float>();
  out.confidence = (mdist.median() - mdist[least]).item<float>();
  out.windows = n;
  const at::Tensor values = mdist.to(at::kDouble).contiguous();
  out.mean_distance.assign(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
  return out;
}

}  // namespace dinet::eval
