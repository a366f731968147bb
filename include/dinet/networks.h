// The published DINet networks as LibTorch modules: the generator (with AdaAT), SyncNet,
// the frame/clip discriminator and the VGG19 perceptual features. Children are registered
// under the published Python names, so state-dict keys match the published checkpoints by
// construction (reference section 3).
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <filesystem>
#include <vector>

namespace dinet {

// Adaptive affine transformation: warps every channel of a feature map by its own
// rotation, scale and translation, predicted from a parameter code (reference 3.1).
class AdaATImpl : public torch::nn::Module {
 public:
  AdaATImpl(int64_t para_channels, int64_t feature_channels);
  // feature_map (B,D,h,w), para_code (B,para_channels) -> (B,D,h,w)
  at::Tensor forward(const at::Tensor& feature_map, const at::Tensor& para_code);

 private:
  int64_t feature_channels_;
  torch::nn::Sequential commn_linear_{nullptr}, scale_{nullptr}, rotation_{nullptr},
      translation_{nullptr};
};
TORCH_MODULE(AdaAT);

// AdaAT's base grid along an axis of n samples: 2 i / (n - 1) - 1. The published code divides
// by n - 1 although grid_sample runs with align_corners=False; reproduced as is, it is what
// the weights were trained with.
at::Tensor adaat_base_coordinates(int64_t n, const at::TensorOptions& options);

// The reference branch of the generator. It depends only on the reference images, which
// are fixed for a whole video at inference, so it is computed once and reused per frame.
struct DINetReference {
  at::Tensor feature;     // ref_in_conv(references): (B,256,H/4,W/4), also feeds trans_conv
  at::Tensor appearance;  // appearance_conv_list[0](feature): what AdaAT warps
};

// Every intermediate the parity fixtures hold, plus the output.
struct DINetTrace {
  at::Tensor source_feature;   // source_in_conv(source)            (B,256,H/4,W/4)
  at::Tensor ref_feature;      // ref_in_conv(references)           (B,256,H/4,W/4)
  at::Tensor img_para;         // pooled alignment encoder output   (B,128)
  at::Tensor audio_para;       // pooled audio encoder output       (B,128)
  at::Tensor ref_appearance0;  // appearance_conv_list[0] output    (B,256,H/4,W/4)
  at::Tensor adaat_out;        // after AdaAT                       (B,256,H/4,W/4)
  at::Tensor output;           // generated face in (0,1)           (B,3,H,W)
};

// The generator's computation in the published order, written once (dinet_generate) over
// replaceable pieces: DINetImpl runs its own layers in them (training, parity tests); inference
// runs pieces built from the same module's weights, with BatchNorm folded, the reference
// branch cached per video and int8 or one-pass kernels where they pay (src/infer/generator.h).
class DINetPieces {
 public:
  virtual ~DINetPieces() = default;
  // source_in_conv: the masked source (B,3,H,W) -> its features (B,256,H/4,W/4)
  virtual at::Tensor encode_source(const at::Tensor& source) = 0;
  // trans_conv over concat(source features, reference features), pooled: img_para (B,128)
  virtual at::Tensor align(const at::Tensor& source_feature) = 0;
  // audio_encoder over the 5-frame window (B,C,5), pooled: audio_para (B,128)
  virtual at::Tensor encode_audio(const at::Tensor& audio) = 0;
  // AdaAT of the reference appearance features by concat(img_para, audio_para)
  virtual at::Tensor warp(const at::Tensor& code) = 0;
  // appearance_conv_list[1] over the warped features
  virtual at::Tensor appearance(const at::Tensor& warped) = 0;
  // out_conv over concat(source features, appearance): the face (B,3,H,W) in (0,1)
  virtual at::Tensor decode(const at::Tensor& merged) = 0;
};

// The generator `DINet(source_channel, ref_channel, audio_channel)`. Inputs: the masked
// source face (B,3,H,W), five reference faces stacked on channels (B,15,H,W), both RGB in
// [0,1], and a window of five audio feature frames (B,audio_channel,5).
class DINetImpl : public torch::nn::Module {
 public:
  explicit DINetImpl(int64_t source_channel = 3, int64_t ref_channel = 15,
                     int64_t audio_channel = 29);

  at::Tensor forward(const at::Tensor& source, const at::Tensor& references,
                     const at::Tensor& audio);
  DINetReference encode_reference(const at::Tensor& references);
  // A reference of batch 1 is shared by every sample of the batch.
  at::Tensor forward_with_reference(const at::Tensor& source, const DINetReference& reference,
                                    const at::Tensor& audio);
  DINetTrace trace(const at::Tensor& source, const at::Tensor& references,
                   const at::Tensor& audio);

  int64_t audio_channel() const { return audio_channel_; }
  // Training in less memory for more time: with autograd on, the encoders, the appearance
  // blocks and the decoder keep no activations and run again in the backward (gradient
  // checkpointing, src/model/recompute.h). Same gradients and BatchNorm statistics.
  void set_gradient_checkpointing(bool on) { gradient_checkpointing_ = on; }
  bool gradient_checkpointing() const { return gradient_checkpointing_; }
  // The mouth_region_size m whose model face (3r+q) x (2r+2q) is height x width (r = m/2,
  // q = r/4), or 0 when there is none. m is a multiple of 32, so that the two stride-2
  // encoders and the two x2 decoders give back the input size exactly.
  static int64_t mouth_region_for_face(int64_t height, int64_t width);

 private:
  friend class DINetModulePieces;  // the module's own layers as DINetPieces
  DINetTrace run(const at::Tensor& source, const DINetReference& reference,
                 const at::Tensor& audio);
  // seq(x), recomputed in the backward when checkpointing.
  at::Tensor segment(torch::nn::Sequential& seq, const at::Tensor& x);

  int64_t audio_channel_;
  bool gradient_checkpointing_ = false;
  torch::nn::Sequential source_in_conv_{nullptr}, ref_in_conv_{nullptr}, trans_conv_{nullptr},
      audio_encoder_{nullptr};
  torch::nn::ModuleList appearance_conv_list_{nullptr};
  AdaAT adaAT_{nullptr};
  torch::nn::Sequential out_conv_{nullptr};
};
TORCH_MODULE(DINet);

// Runs the generator's pieces on a batch; fills `trace`'s source_feature, img_para,
// audio_para, adaat_out and output when given.
at::Tensor dinet_generate(DINetPieces& pieces, const at::Tensor& source, const at::Tensor& audio,
                          DINetTrace* trace = nullptr);

// The lip-sync network `SyncNet(15, audio_channel, 128)` (no BatchNorm): five mouth crops
// stacked on channels (B,15,m,m) and nine audio feature frames (B,audio_channel,9) give a
// score map (B,1,m/32,m/32); clip training pushes every score towards 1.
class SyncNetImpl : public torch::nn::Module {
 public:
  explicit SyncNetImpl(int64_t image_channel = 15, int64_t audio_channel = 29,
                       int64_t out_dim = 128);
  at::Tensor forward(const at::Tensor& mouths, const at::Tensor& audio);
  // forward() in its three parts, so a search over audio offsets encodes each mouth clip
  // once: (B,15,m,m) -> (B,128,m/32,m/32); (B,C,9) -> (B,128); both -> score map.
  at::Tensor embed_mouths(const at::Tensor& mouths);
  at::Tensor embed_audio(const at::Tensor& audio);
  at::Tensor merge(const at::Tensor& mouth_embedding, const at::Tensor& audio_embedding);
  int64_t audio_channel() const { return audio_channel_; }
  // Data-dependent initialisation (LSUV-style): rescales every convolution, in forward order,
  // so that its output channels have zero mean and unit variance over this batch. Without it
  // the 20 unnormalised convolutions of the face encoder leave the mouth embedding varying
  // across clips by about 1% of its mean, and training does not start (docs/training.md).
  void standardise_activations(const at::Tensor& mouths, const at::Tensor& audio);

 private:
  int64_t audio_channel_;
  torch::nn::Sequential face_conv_{nullptr}, audio_conv_{nullptr}, merge_encoder_{nullptr};
};
TORCH_MODULE(SyncNet);

struct DiscriminatorOutput {
  std::vector<at::Tensor> features;  // every down block's output (feature matching)
  at::Tensor score;                  // the final 1-channel map
};

// `Discriminator(in_channels, 64, 4, 256)`: 3 channels for frames, 15 for clips (five
// frames stacked on channels).
class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(int64_t in_channels, int64_t block_expansion = 64,
                             int64_t num_blocks = 4, int64_t max_features = 256);
  DiscriminatorOutput forward(const at::Tensor& images);
  int64_t in_channels() const { return in_channels_; }

 private:
  int64_t in_channels_;
  torch::nn::ModuleList down_blocks_{nullptr};
  torch::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(Discriminator);

// torchvision's VGG19 `features` layers 0..29 (keys `features.N.weight/bias`) for the
// perceptual loss. forward takes RGB in [0,1], applies the ImageNet normalisation and
// returns relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1.
class VGG19Impl : public torch::nn::Module {
 public:
  VGG19Impl();
  std::vector<at::Tensor> forward(const at::Tensor& rgb);

 private:
  torch::nn::Sequential features_{nullptr};  // registered: the state-dict layout
  // The same layers cut after each output; not registered, they share features_' modules.
  std::vector<torch::nn::Sequential> slices_;
};
TORCH_MODULE(VGG19);

// Networks built from a checkpoint: channel counts are read from the stored weight shapes
// (so audio features other than DeepSpeech's 29 work), then the weights are loaded strictly.
// Each accepts the published layout and a bare state dict; errors name the file.
DINet load_dinet(const std::filesystem::path& file);              // state_dict/net_g
SyncNet load_syncnet(const std::filesystem::path& file);          // state_dict/net
// state_dict/net_dI (frames, 3 channels) or state_dict/net_dV (clips, 15 channels); when a
// file holds both, `prefer_clip` picks net_dV.
Discriminator load_discriminator(const std::filesystem::path& file, bool prefer_clip = false);
// torchvision's vgg19-dcbb9e9d.pth: only the features.* entries (classifier.* is ignored).
VGG19 load_vgg19(const std::filesystem::path& file);

}  // namespace dinet
