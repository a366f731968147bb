// The SyncNet of Chung and Zisserman (2016) as released in joonson/syncnet_python
// (SyncNetModel.py, class S; weights `syncnet_v2.model`), the network behind the LSE-C and
// LSE-D lip-sync metrics. Children carry the published names (netcnnaud, netfcaud,
// netcnnlip, netfclip), so the state-dict keys are those of S().state_dict().
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <filesystem>

namespace dinet::eval {

inline constexpr int64_t kLseEmbedding = 1024;
inline constexpr int64_t kLseCropSize = 224;     // the face crop, pixels
inline constexpr int64_t kLseWindowFrames = 5;   // video frames per lip window

class LseSyncNetImpl : public torch::nn::Module {
 public:
  LseSyncNetImpl();
  // (N, 3, 5, 224, 224) BGR frames, float 0..255 without normalisation, as SyncNetInstance
  // feeds cv2.imread output -> (N, 1024).
  at::Tensor forward_lip(const at::Tensor& frames);
  // (N, 1, 13, 20) MFCC windows -> (N, 1024).
  at::Tensor forward_aud(const at::Tensor& mfcc);

 private:
  torch::nn::Sequential netcnnaud_{nullptr}, netfcaud_{nullptr}, netcnnlip_{nullptr}, netfclip_{nullptr};
};
TORCH_MODULE(LseSyncNet);

// The network in eval mode from a bare state dict as torch.save wrote it (the released
// syncnet_v2.model: legacy format, no BatchNorm num_batches_tracked; files with them and the
// zip format load too). Throws dinet::Error naming the file when it is missing or does not fit.
LseSyncNet load_lse_syncnet(const std::filesystem::path& file);

}  // namespace dinet::eval
