// SyncNet (reference section 3.2). Its blocks differ from the generator's: no BatchNorm,
// and its 2-D down block is a stride-1 conv followed by 2x2 average pooling.
#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/utils.h>

#include <functional>

#include "dinet/networks.h"

namespace dinet {
namespace {

template <size_t D>
using Conv = std::conditional_t<D == 1, torch::nn::Conv1d, torch::nn::Conv2d>;

// Set only while SyncNetImpl::standardise_activations runs: it sees every convolution's output
// in forward order and returns what the network goes on with.
thread_local const std::function<at::Tensor(torch::nn::Module&, const at::Tensor&)>* conv_tap = nullptr;

template <typename ConvHolder>
at::Tensor run_conv(ConvHolder& conv, const at::Tensor& x) {
  at::Tensor y = conv(x);
  return conv_tap ? (*conv_tap)(*conv, y) : y;
}

template <size_t D>
Conv<D> make_conv(int64_t in, int64_t out, int64_t kernel, int64_t padding, int64_t stride = 1) {
  return Conv<D>(torch::nn::ConvOptions<D>(in, out, kernel).padding(padding).stride(stride));
}

// conv -> ReLU
template <size_t D>
class SameBlockImpl : public torch::nn::Module {
 public:
  SameBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding)
      : conv_(register_module("conv", make_conv<D>(in, out, kernel, padding))) {}
  at::Tensor forward(const at::Tensor& x) { return torch::relu(run_conv(conv_, x)); }

 private:
  Conv<D> conv_;
};

// ReLU -> conv1 -> ReLU -> conv2, plus the input (channels never change in SyncNet).
template <size_t D>
class ResBlockImpl : public torch::nn::Module {
 public:
  explicit ResBlockImpl(int64_t channels)
      : conv1_(register_module("conv1", make_conv<D>(channels, channels, 3, 1))),
        conv2_(register_module("conv2", make_conv<D>(channels, channels, 3, 1))) {}
  at::Tensor forward(const at::Tensor& x) {
    return run_conv(conv2_, torch::relu(run_conv(conv1_, torch::relu(x)))) + x;
  }

 private:
  Conv<D> conv1_, conv2_;
};

// conv 3x3 (stride 1) -> ReLU -> 2x2 average pooling.
class DownBlock2dImpl : public torch::nn::Module {
 public:
  explicit DownBlock2dImpl(int64_t channels)
      : conv_(register_module("conv", make_conv<2>(channels, channels, 3, 1))) {}
  at::Tensor forward(const at::Tensor& x) {
    return torch::nn::functional::avg_pool2d(torch::relu(run_conv(conv_, x)),
                                             torch::nn::functional::AvgPool2dFuncOptions(2));
  }

 private:
  torch::nn::Conv2d conv_;
};

// conv k3 p1 stride 2 -> ReLU.
class DownBlock1dImpl : public torch::nn::Module {
 public:
  explicit DownBlock1dImpl(int64_t channels)
      : conv_(register_module("conv", make_conv<1>(channels, channels, 3, 1, 2))) {}
  at::Tensor forward(const at::Tensor& x) { return torch::relu(run_conv(conv_, x)); }

 private:
  torch::nn::Conv1d conv_;
};

using std::make_shared;

torch::nn::Sequential face_conv(int64_t image_channel, int64_t out_dim) {
  torch::nn::Sequential seq(make_shared<SameBlockImpl<2>>(image_channel, 64, 7, 3),
                            make_shared<ResBlockImpl<2>>(64), make_shared<DownBlock2dImpl>(64),
                            make_shared<SameBlockImpl<2>>(64, 128, 3, 1));
  for (int stage = 0; stage < 3; ++stage) {
    seq->push_back(make_shared<ResBlockImpl<2>>(128));
    seq->push_back(make_shared<DownBlock2dImpl>(128));
    seq->push_back(make_shared<SameBlockImpl<2>>(128, 128, 3, 1));
  }
  seq->push_back(make_shared<ResBlockImpl<2>>(128));
  seq->push_back(make_shared<DownBlock2dImpl>(128));
  seq->push_back(make_shared<SameBlockImpl<2>>(128, out_dim, 1, 0));
  return seq;
}

torch::nn::Sequential audio_conv(int64_t audio_channel, int64_t out_dim) {
  torch::nn::Sequential seq(make_shared<SameBlockImpl<1>>(audio_channel, 128, 7, 3));
  for (int stage = 0; stage < 3; ++stage) {
    seq->push_back(make_shared<ResBlockImpl<1>>(128));
    seq->push_back(make_shared<DownBlock1dImpl>(128));
  }
  seq->push_back(make_shared<SameBlockImpl<1>>(128, out_dim, 3, 1));
  return seq;
}

}  // namespace

SyncNetImpl::SyncNetImpl(int64_t image_channel, int64_t audio_channel, int64_t out_dim)
    : audio_channel_(audio_channel) {
  // face_encoder and audio_encoder are plain containers in the published code; only their
  // names appear in the keys (face_encoder.face_conv.0.conv.weight).
  auto face_encoder = register_module("face_encoder", std::make_shared<torch::nn::Module>());
  face_conv_ = face_encoder->register_module("face_conv", face_conv(image_channel, out_dim));
  auto audio_encoder = register_module("audio_encoder", std::make_shared<torch::nn::Module>());
  audio_conv_ = audio_encoder->register_module("audio_conv", audio_conv(audio_channel, out_dim));
  merge_encoder_ = register_module(
      "merge_encoder",
      torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * out_dim, out_dim, 3).padding(1)),
                            torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)),
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(out_dim, 1, 3).padding(1))));
}

at::Tensor SyncNetImpl::forward(const at::Tensor& mouths, const at::Tensor& audio) {
  return merge(embed_mouths(mouths), embed_audio(audio));
}

at::Tensor SyncNetImpl::embed_mouths(const at::Tensor& mouths) { return face_conv_->forward(mouths); }

at::Tensor SyncNetImpl::embed_audio(const at::Tensor& audio) {
  return audio_conv_->forward(audio).mean(2);
}

at::Tensor SyncNetImpl::merge(const at::Tensor& mouth_embedding, const at::Tensor& audio_embedding) {
  const at::Tensor audio_map =
      audio_embedding.unsqueeze(2).unsqueeze(3).expand_as(mouth_embedding);
  at::Tensor x = torch::cat({mouth_embedding, audio_map}, 1);
  for (auto& layer : *merge_encoder_) {
    x = layer.forward(x);
    if (conv_tap && layer.ptr()->as<torch::nn::Conv2d>()) x = (*conv_tap)(*layer.ptr(), x);
  }
  return x;
}

void SyncNetImpl::standardise_activations(const at::Tensor& mouths, const at::Tensor& audio) {
  torch::NoGradGuard no_grad;
  // y = Wx + b with per-channel mean u and std s over the batch: W/s and (b-u)/s give
  // exactly (y-u)/s, which the later layers of this same pass then see.
  const std::function<at::Tensor(torch::nn::Module&, const at::Tensor&)> standardise =
      [](torch::nn::Module& conv, const at::Tensor& y) {
        std::vector<int64_t> dims{0};
        for (int64_t d = 2; d < y.dim(); ++d) dims.push_back(d);
        const at::Tensor mean = y.mean(dims), std = y.std(dims).clamp_min(1e-6);
        at::Tensor weight = conv.named_parameters(false)["weight"];
        at::Tensor bias = conv.named_parameters(false)["bias"];
        std::vector<int64_t> shape(weight.dim(), 1);
        shape[0] = -1;
        weight.div_(std.view(shape));
        bias.sub_(mean).div_(std);
        shape.assign(y.dim(), 1);
        shape[1] = -1;
        return (y - mean.view(shape)) / std.view(shape);
      };
  struct TapScope {  // the tap is unset however forward() ends
    explicit TapScope(const decltype(standardise)* tap) { conv_tap = tap; }
    ~TapScope() { conv_tap = nullptr; }
  } scope(&standardise);
  forward(mouths, audio);
}

}  // namespace dinet
