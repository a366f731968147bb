#include "infer/generator.h"

#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "dinet/cpu.h"
#include "dinet/error.h"
#include "dinet/runtime.h"

namespace dinet::infer {

at::ScalarType compute_dtype(const std::string& device, Precision precision) {
  if (device == "cuda") {
    if (precision == Precision::int8) throw Error("--precision int8: runs on the CPU only; on CUDA use fp16 or bf16");
    if (!torch::cuda::is_available())
      throw Error("--device cuda: no CUDA device is visible (or this LibTorch was built without CUDA)");
    return precision == Precision::fp16 ? at::kHalf
           : precision == Precision::bf16 ? at::kBFloat16
                                          : at::kFloat;
  }
  if (device != "cpu") throw Error("--device " + device + ": expected cpu or cuda");
  switch (precision) {
    case Precision::int8:
      return cpu_has_native_bf16() ? at::kBFloat16 : at::kFloat;
    case Precision::fp32:
      return at::kFloat;
    case Precision::bf16:
      // Without hardware bf16 products oneDNN emulates them, slower than fp32.
      if (!cpu_has_native_bf16())
        throw Error("--precision bf16: this CPU has neither AVX512-BF16 nor AMX-BF16; use fp32");
      return at::kBFloat16;
    case Precision::fp16:
      break;
  }
  throw Error("--precision fp16: runs on CUDA only; on the CPU use bf16 or fp32");
}

Generator::Generator(DINet net, const std::string& device, Precision precision)
    : net_(std::move(net)), audio_encoder_(*net_), adaptive_warp_(*net_) {
  target_.dtype = compute_dtype(device, precision);
  target_.device = at::Device(device);
  net_->eval();
  net_->to(target_.device, at::kFloat);
  torch::nn::Module& m = *net_;
  for (int i = 0; has_module(m, "source_in_conv." + std::to_string(i)); ++i)
    source_in_.push_back({folded_conv(m, "source_in_conv." + std::to_string(i), target_)});
  // trans_conv.0 sees concat(source, reference) features: a sum of two convolutions, one of
  // which is fixed for the whole video.
  const Conv first = folded_conv(m, "trans_conv.0", target_);
  const int64_t half = first.weight.size(1) / 2;
  trans_first_source_ = input_slice(first, 0, half, false);
  trans_first_reference_ = input_slice(first, half, 2 * half, true);
  for (int i = 1; has_module(m, "trans_conv." + std::to_string(i)); ++i)
    trans_rest_.push_back({folded_conv(m, "trans_conv." + std::to_string(i), target_)});
  for (int i = 0; has_module(m, "appearance_conv_list.1." + std::to_string(i)); ++i)
    appearance_.push_back(res_block(m, "appearance_conv_list.1." + std::to_string(i), target_));
  out_first_ = {folded_conv(m, "out_conv.0", target_)};
  out_up1_ = up_block(m, "out_conv.1", target_);
  out_res_ = res_block(m, "out_conv.2", target_);
  out_up2_ = up_block(m, "out_conv.3", target_);
  out_last_ = space_to_depth_conv(folded_conv(m, "out_conv.4", LayerTarget{}), target_);
  if (precision == Precision::int8) {
    int8_source_in_.emplace(source_in_);
    for (const ResBlock& block : appearance_) int8_appearance_.emplace_back(block);
    int8_trans_.emplace(trans_rest_);
    int8_out_first_.emplace(std::vector<ConvRelu>{out_first_});
    int8_out_res_.emplace(out_res_);
    int8_out_up2_.emplace(out_up2_);
  }
}

void Generator::set_reference(const at::Tensor& references) {
  c10::InferenceMode guard;
  const DINetReference ref = net_->encode_reference(references.to(target_.device, at::kFloat));
  adaptive_warp_.set_reference(ref.appearance);
  reference_trans_ = trans_first_reference_(channels_last(ref.feature.to(target_.dtype)));
  int8_record_next(/*new_video=*/true);
}

void Generator::int8_record_next(bool new_video) {
  const auto mark = [new_video](auto& part) { new_video ? part.reset() : part.record_next(); };
  for (QuantizedResBlock& block : int8_appearance_) mark(block);
  for (auto* chain : {&int8_source_in_, &int8_trans_, &int8_out_first_})
    if (*chain) mark(**chain);
  if (int8_out_res_) mark(*int8_out_res_);
  if (int8_out_up2_) mark(*int8_out_up2_);
  int8_frames_since_record_ = 0;
}

at::Tensor Generator::forward(const at::Tensor& source, const at::Tensor& audio) {
  if (!reference_trans_.defined()) throw Error("Generator: set_reference was not called");
  c10::InferenceMode guard;
  if (int8_source_in_) {  // --precision int8
    int8_frames_since_record_ += source.size(0);
    if (int8_frames_since_record_ > kInt8RecordEvery) int8_record_next(/*new_video=*/false);
  }
  return dinet_generate(*this, source, audio).to(at::kCPU).contiguous();
}

at::Tensor Generator::encode_source(const at::Tensor& source) {
  at::Tensor s = channels_last(source.to(target_.device, target_.dtype));
  if (int8_source_in_) return (*int8_source_in_)(s);
  for (const ConvRelu& layer : source_in_) s = layer(s);
  return s;
}

at::Tensor Generator::align(const at::Tensor& source_feature) {
  at::Tensor t = trans_first_source_(source_feature).add_(reference_trans_).relu_();
  if (int8_trans_)
    t = (*int8_trans_)(t);
  else
    for (const ConvRelu& layer : trans_rest_) t = layer(t);
  return t.to(at::kFloat).mean({2, 3});
}

at::Tensor Generator::encode_audio(const at::Tensor& audio) { return audio_encoder_(audio).to(target_.device); }

at::Tensor Generator::warp(const at::Tensor& code) { return channels_last(adaptive_warp_(code).to(target_.dtype)); }

at::Tensor Generator::appearance(const at::Tensor& warped) {
  at::Tensor g = warped;
  if (int8_appearance_.empty())
    for (const ResBlock& block : appearance_) g = block(g);
  else
    for (QuantizedResBlock& block : int8_appearance_) g = block(g);
  return g;
}

at::Tensor Generator::decode(const at::Tensor& merged_features) {
  const at::Tensor merged = channels_last(merged_features);
  at::Tensor o = out_up1_(int8_out_first_ ? (*int8_out_first_)(merged) : out_first_(merged));
  o = int8_out_res_ ? (*int8_out_res_)(o) : out_res_(o);
  o = int8_out_up2_ ? int8_out_up2_->space_to_depth(o) : out_up2_.space_to_depth(o);
  return out_last_(o).to(at::kFloat).sigmoid_();
}

}  // namespace dinet::infer
