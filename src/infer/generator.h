// The DINet generator as inference runs it: the published module's computation
// (dinet_generate, include/dinet/networks.h) over pieces built from its weights: BatchNorm
// folded once (infer/layers.h), the module's own reference branch and the reference half of
// the alignment encoder's first convolution computed once per video, the convolutions in the
// chosen precision and channels-last, int8 where it pays (infer/int8.h). The audio encoder
// and AdaAT (infer/alignment.h) run in float32. In fp32 it all is DINet::forward within float
// rounding (tests/test-infer-generator.cpp).
#pragma once

#include <ATen/Tensor.h>

#include <optional>
#include <vector>

#include "dinet/infer.h"
#include "dinet/networks.h"
#include "infer/alignment.h"
#include "infer/int8.h"
#include "infer/layers.h"

namespace dinet::infer {

// The tensor type of a precision on a device; throws dinet::Error where it would not run
// natively (bf16 on a CPU without AVX512-BF16 or AMX, fp16 on a CPU, int8 on CUDA, cuda when
// absent). For int8 the type of the layers that stay in floating point.
at::ScalarType compute_dtype(const std::string& device, Precision precision);

class Generator : private DINetPieces {
 public:
  Generator(DINet net, const std::string& device, Precision precision);

  // Five reference faces stacked on channels: (1, 15, H, W), RGB in [0, 1].
  void set_reference(const at::Tensor& references);
  // Masked source faces (B, 3, H, W) and audio windows (B, C, 5), float on any device ->
  // generated faces (B, 3, H, W), float32 on the CPU, in (0, 1).
  at::Tensor forward(const at::Tensor& source, const at::Tensor& audio);

  int64_t audio_channel() const { return net_->audio_channel(); }

 private:
  // The pieces of dinet_generate, for the video set by set_reference.
  at::Tensor encode_source(const at::Tensor& source) override;
  at::Tensor align(const at::Tensor& source_feature) override;
  at::Tensor encode_audio(const at::Tensor& audio) override;
  at::Tensor warp(const at::Tensor& code) override;
  at::Tensor appearance(const at::Tensor& warped) override;
  at::Tensor decode(const at::Tensor& merged) override;

  DINet net_;
  LayerTarget target_;
  std::vector<ConvRelu> source_in_;
  Conv trans_first_source_, trans_first_reference_;
  std::vector<ConvRelu> trans_rest_;
  std::vector<ResBlock> appearance_;
  // --precision int8: in int8 the source encoder, the alignment encoder (trans_conv but its
  // first layer, which adds the cached reference half), the appearance ResBlocks, and of the
  // decoder its first layer, its ResBlock and its second UpBlock. In bf16 the first UpBlock
  // (small) and the last convolution (its output, before the sigmoid, would be 8-bit).
  std::optional<QuantizedConvReluChain> int8_source_in_, int8_trans_, int8_out_first_;
  std::vector<QuantizedResBlock> int8_appearance_;
  std::optional<QuantizedResBlock> int8_out_res_;
  std::optional<QuantizedUpBlock> int8_out_up2_;
  // The int8 ranges are recorded on each video's first batch and widened by one batch in the
  // carrier precision every kInt8RecordEvery frames after it (a few per cent of the time).
  static constexpr int64_t kInt8RecordEvery = 200;
  int64_t int8_frames_since_record_ = 0;
  void int8_record_next(bool new_video);
  ConvRelu out_first_;
  UpBlock out_up1_, out_up2_;
  ResBlock out_res_;
  SpaceToDepthConv out_last_;
  AudioEncoder audio_encoder_;
  AdaptiveWarp adaptive_warp_;
  // Per video.
  at::Tensor reference_trans_;       // the reference half of trans_conv.0, bias included
};

}  // namespace dinet::infer
