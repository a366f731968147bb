// The DINet generator and its AdaAT operator (reference section 3.1).
#include <torch/nn/functional/vision.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include "dinet/networks.h"
#include "model/blocks.h"
#include "model/recompute.h"

namespace dinet {
namespace {

using blocks::DownBlock1dImpl;
using blocks::DownBlock2dImpl;
using blocks::ResBlock1dImpl;
using blocks::ResBlock2dImpl;
using blocks::SameBlock1dImpl;
using blocks::SameBlock2dImpl;
using blocks::UpBlock2dImpl;
using std::make_shared;

torch::nn::Sequential linear_then(int64_t in, int64_t out, torch::nn::AnyModule activation) {
  torch::nn::Sequential seq(torch::nn::Linear(in, out));
  seq->push_back(std::move(activation));
  return seq;
}

torch::nn::Sequential input_encoder(int64_t in_channels) {
  return torch::nn::Sequential(make_shared<SameBlock2dImpl>(in_channels, 64, 7, 3),
                               make_shared<DownBlock2dImpl>(64, 128),
                               make_shared<DownBlock2dImpl>(128, 256));
}

torch::nn::Sequential appearance_block() {
  torch::nn::Sequential seq;
  for (int i = 0; i < 4; ++i) seq->push_back(make_shared<ResBlock2dImpl>(256, 256, 3, 1));
  return seq;
}

}  // namespace

at::Tensor adaat_base_coordinates(int64_t n, const at::TensorOptions& options) {
  return torch::arange(n, options).div(static_cast<double>(n - 1)).mul(2).sub(1);
}

AdaATImpl::AdaATImpl(int64_t para_channels, int64_t feature_channels)
    : feature_channels_(feature_channels) {
  commn_linear_ = register_module(
      "commn_linear",
      linear_then(para_channels, para_channels, torch::nn::AnyModule(torch::nn::ReLU())));
  scale_ = register_module(
      "scale",
      linear_then(para_channels, feature_channels, torch::nn::AnyModule(torch::nn::Sigmoid())));
  rotation_ = register_module(
      "rotation",
      linear_then(para_channels, feature_channels, torch::nn::AnyModule(torch::nn::Tanh())));
  translation_ = register_module(
      "translation",
      linear_then(para_channels, 2 * feature_channels, torch::nn::AnyModule(torch::nn::Tanh())));
}

at::Tensor AdaATImpl::forward(const at::Tensor& feature_map, const at::Tensor& para_code) {
  const int64_t batch = feature_map.size(0), depth = feature_map.size(1);
  const int64_t height = feature_map.size(2), width = feature_map.size(3);
  TORCH_CHECK(depth == feature_channels_, "AdaAT: expected ", feature_channels_,
              " feature channels, got ", depth);
  // Sampling runs in at least float32: in bfloat16 the depth coordinates (steps of 2/255)
  // would round onto each other and blend the wrong channels.
  const auto precision = at::promote_types(feature_map.scalar_type(), at::kFloat);
  const at::Tensor code = commn_linear_->forward(para_code);
  // Per channel: (B,D,1,1), broadcast over the (h,w) grid.
  const at::Tensor scale = scale_->forward(code).to(precision).mul(2).view({batch, depth, 1, 1});
  const at::Tensor angle =
      rotation_->forward(code).to(precision).mul(3.14159).view({batch, depth, 1, 1});
  const at::Tensor shift = translation_->forward(code).to(precision).view({batch, depth, 2, 1, 1});
  const at::Tensor cos = angle.cos(), sin = angle.sin();

  const auto options = feature_map.options().dtype(precision);
  const at::Tensor x = adaat_base_coordinates(width, options).view({1, 1, 1, width});
  const at::Tensor y = adaat_base_coordinates(height, options).view({1, 1, height, 1});
  const at::Tensor z = adaat_base_coordinates(depth, options).view({1, depth, 1, 1});
  const at::Tensor warped_x = (cos * x - sin * y) * scale + shift.select(2, 0);
  const at::Tensor warped_y = (sin * x + cos * y) * scale + shift.select(2, 1);
  const at::Tensor grid =
      torch::stack({warped_x, warped_y, z.expand({batch, depth, height, width})}, -1);

  // One trilinear sample of the (B,1,D,h,w) volume: z does not land exactly on channel k
  // under align_corners=False, so neighbouring channels blend; a per-channel 2-D warp
  // would not reproduce the published network.
  namespace F = torch::nn::functional;
  return F::grid_sample(feature_map.to(precision).unsqueeze(1), grid,
                        F::GridSampleFuncOptions()
                            .mode(torch::kBilinear)
                            .padding_mode(torch::kZeros)
                            .align_corners(false))
      .squeeze(1)
      .to(feature_map.scalar_type());
}

DINetImpl::DINetImpl(int64_t source_channel, int64_t ref_channel, int64_t audio_channel)
    : audio_channel_(audio_channel) {
  source_in_conv_ = register_module("source_in_conv", input_encoder(source_channel));
  ref_in_conv_ = register_module("ref_in_conv", input_encoder(ref_channel));
  trans_conv_ = register_module(
      "trans_conv",
      torch::nn::Sequential(
          make_shared<SameBlock2dImpl>(512, 128, 3, 1),
          make_shared<SameBlock2dImpl>(128, 128, 11, 5),
          make_shared<SameBlock2dImpl>(128, 128, 11, 5), make_shared<DownBlock2dImpl>(128, 128),
          make_shared<SameBlock2dImpl>(128, 128, 7, 3),
          make_shared<SameBlock2dImpl>(128, 128, 7, 3), make_shared<DownBlock2dImpl>(128, 128),
          make_shared<SameBlock2dImpl>(128, 128, 3, 1), make_shared<DownBlock2dImpl>(128, 128),
          make_shared<SameBlock2dImpl>(128, 128, 3, 1), make_shared<DownBlock2dImpl>(128, 128)));
  audio_encoder_ = register_module(
      "audio_encoder",
      torch::nn::Sequential(make_shared<SameBlock1dImpl>(audio_channel, 128, 5, 2),
                            make_shared<ResBlock1dImpl>(128, 128, 3, 1),
                            make_shared<DownBlock1dImpl>(128, 128, 3, 1),
                            make_shared<ResBlock1dImpl>(128, 128, 3, 1),
                            make_shared<DownBlock1dImpl>(128, 128, 3, 1),
                            make_shared<SameBlock1dImpl>(128, 128, 3, 1)));
  appearance_conv_list_ = register_module(
      "appearance_conv_list", torch::nn::ModuleList(appearance_block(), appearance_block()));
  adaAT_ = register_module("adaAT", AdaAT(256, 256));
  torch::nn::Sequential out_conv(
      make_shared<SameBlock2dImpl>(512, 128, 3, 1), make_shared<UpBlock2dImpl>(128, 128),
      make_shared<ResBlock2dImpl>(128, 128, 3, 1), make_shared<UpBlock2dImpl>(128, 128),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(128, 3, 7).padding(3)), torch::nn::Sigmoid());
  out_conv_ = register_module("out_conv", out_conv);
}

at::Tensor DINetImpl::forward(const at::Tensor& source, const at::Tensor& references,
                              const at::Tensor& audio) {
  return forward_with_reference(source, encode_reference(references), audio);
}

DINetReference DINetImpl::encode_reference(const at::Tensor& references) {
  DINetReference reference;
  torch::nn::Sequential appearance(appearance_conv_list_->ptr<torch::nn::SequentialImpl>(0));
  reference.feature = segment(ref_in_conv_, references);
  reference.appearance = segment(appearance, reference.feature);
  return reference;
}

at::Tensor DINetImpl::forward_with_reference(const at::Tensor& source,
                                             const DINetReference& reference,
                                             const at::Tensor& audio) {
  return run(source, reference, audio).output;
}

DINetTrace DINetImpl::trace(const at::Tensor& source, const at::Tensor& references,
                            const at::Tensor& audio) {
  return run(source, encode_reference(references), audio);
}

// The module's own layers as the generator's pieces, for one batch and its reference.
class DINetModulePieces : public DINetPieces {
 public:
  DINetModulePieces(DINetImpl& net, const at::Tensor& ref_feature, const at::Tensor& ref_appearance)
      : net_(net), ref_feature_(ref_feature), ref_appearance_(ref_appearance) {}

  at::Tensor encode_source(const at::Tensor& source) override { return net_.segment(net_.source_in_conv_, source); }
  at::Tensor align(const at::Tensor& source_feature) override {
    return net_.segment(net_.trans_conv_, torch::cat({source_feature, ref_feature_}, 1)).mean({2, 3});
  }
  at::Tensor encode_audio(const at::Tensor& audio) override { return net_.audio_encoder_->forward(audio).mean(2); }
  at::Tensor warp(const at::Tensor& code) override { return net_.adaAT_(ref_appearance_, code); }
  at::Tensor appearance(const at::Tensor& warped) override {
    torch::nn::Sequential blocks(net_.appearance_conv_list_->ptr<torch::nn::SequentialImpl>(1));
    return net_.segment(blocks, warped);
  }
  at::Tensor decode(const at::Tensor& merged) override { return net_.segment(net_.out_conv_, merged); }

 private:
  DINetImpl& net_;
  at::Tensor ref_feature_, ref_appearance_;
};

at::Tensor dinet_generate(DINetPieces& pieces, const at::Tensor& source, const at::Tensor& audio, DINetTrace* trace) {
  const at::Tensor source_feature = pieces.encode_source(source);
  const at::Tensor img_para = pieces.align(source_feature);
  const at::Tensor audio_para = pieces.encode_audio(audio);
  const at::Tensor warped = pieces.warp(torch::cat({img_para, audio_para}, 1));
  const at::Tensor output = pieces.decode(torch::cat({source_feature, pieces.appearance(warped)}, 1));
  if (trace) {
    trace->source_feature = source_feature;
    trace->img_para = img_para;
    trace->audio_para = audio_para;
    trace->adaat_out = warped;
    trace->output = output;
  }
  return output;
}

DINetTrace DINetImpl::run(const at::Tensor& source, const DINetReference& reference,
                          const at::Tensor& audio) {
  const int64_t batch = source.size(0);
  TORCH_CHECK(reference.feature.size(0) == batch || reference.feature.size(0) == 1,
              "DINet: reference batch ", reference.feature.size(0), " does not match batch ",
              batch);
  DINetTrace t;
  t.ref_feature = reference.feature.expand({batch, -1, -1, -1});
  t.ref_appearance0 = reference.appearance.expand({batch, -1, -1, -1});
  DINetModulePieces pieces(*this, t.ref_feature, t.ref_appearance0);
  dinet_generate(pieces, source, audio, &t);
  return t;
}

at::Tensor DINetImpl::segment(torch::nn::Sequential& seq, const at::Tensor& x) {
  if (!gradient_checkpointing_) return seq->forward(x);
  return recomputed(*seq, [seq](const at::Tensor& in) mutable { return seq->forward(in); }, x);
}

int64_t DINetImpl::mouth_region_for_face(int64_t height, int64_t width) {
  // m = 32k gives r = 16k, q = 4k: a 52k x 40k face.
  if (height <= 0 || height % 52 != 0) return 0;
  const int64_t k = height / 52;
  return width == 40 * k ? 32 * k : 0;
}

}  // namespace dinet
