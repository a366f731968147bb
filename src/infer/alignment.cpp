#include "infer/alignment.h"

#include <torch/nn/functional/vision.h>
#include <torch/nn/modules/conv.h>
#include <torch/torch.h>

#include "dinet/error.h"
#include "infer/layers.h"

namespace dinet::infer {
namespace {

bool has_module(torch::nn::Module& net, const std::string& name) {
  return net.named_modules().find(name) != nullptr;
}

// A Conv1d followed by the BatchNorm `norm` (empty: none), folded.
Conv1dAsLinear conv1d(torch::nn::Module& net, const std::string& conv, const std::string& norm) {
  auto* module = dynamic_cast<torch::nn::Conv1dImpl*>(net.named_modules()[conv].get());
  if (!module) throw Error("DINet generator: " + conv + " is not a Conv1d");
  at::Tensor weight = parameter(net, conv + ".weight"), bias = parameter(net, conv + ".bias");
  if (!norm.empty()) {
    const auto [scale, shift] = batch_norm_affine(net, norm);
    weight = weight * scale.view({-1, 1, 1});
    bias = bias * scale + shift;
  }
  Conv1dAsLinear c;
  c.kernel = weight.size(2);
  c.weight = weight.reshape({weight.size(0), -1}).contiguous();
  c.bias = bias;
  c.stride = module->options.stride()->at(0);
  // Unqualified: found by argument-dependent lookup as c10::get_if (LibTorch 1, c10::variant)
  // or std::get_if (LibTorch 2, std::variant).
  const auto* padding = get_if<torch::ExpandingArray<1>>(&module->options.padding());
  if (!padding) throw Error("DINet generator: " + conv + " has no numeric padding");
  c.padding = (*padding)->at(0);
  return c;
}

// The published base grid: 2 i / (n - 1) - 1, in float as the module computes it.
at::Tensor base_coordinates(int64_t n) {
  return torch::arange(n, torch::kFloat).div(static_cast<double>(n - 1)).mul(2).sub(1);
}

}  // namespace

at::Tensor Conv1dAsLinear::operator()(const at::Tensor& x) const {
  const at::Tensor padded = at::constant_pad_nd(x, {padding, padding});
  // (B, in, L', kernel) -> (B, L', in * kernel), input-channel major like the weight.
  const at::Tensor columns = padded.unfold(2, kernel, stride).permute({0, 2, 1, 3}).flatten(2);
  return at::linear(columns, weight, bias).transpose(1, 2);
}

AudioEncoder::AudioEncoder(torch::nn::Module& net) {
  for (int i = 0; has_module(net, "audio_encoder." + std::to_string(i)); ++i) {
    const std::string p = "audio_encoder." + std::to_string(i);
    Layer layer;
    layer.residual = has_module(net, p + ".conv1");
    if (layer.residual) {
      if (has_module(net, p + ".channel_conv")) throw Error("DINet generator: " + p + " changes channels");
      std::tie(layer.scale1, layer.shift1) = batch_norm_affine(net, p + ".norm1");
      layer.scale1 = layer.scale1.view({1, -1, 1});
      layer.shift1 = layer.shift1.view({1, -1, 1});
      layer.conv1 = conv1d(net, p + ".conv1", p + ".norm2");
      layer.conv2 = conv1d(net, p + ".conv2", "");
    } else {
      layer.conv1 = conv1d(net, p + ".conv", p + ".norm");
    }
    layers_.push_back(layer);
  }
  if (layers_.empty()) throw Error("DINet generator: no audio_encoder");
}

at::Tensor AudioEncoder::operator()(const at::Tensor& audio) const {
  at::Tensor x = audio.to(at::kFloat);
  for (const Layer& l : layers_) {
    if (l.residual)
      x = x + l.conv2(l.conv1(at::addcmul(l.shift1, x, l.scale1).relu_()).relu_());
    else
      x = l.conv1(x).relu_();
  }
  return x.mean(2);
}

AdaptiveWarp::AdaptiveWarp(torch::nn::Module& net) {
  common_w_ = parameter(net, "adaAT.commn_linear.0.weight");
  common_b_ = parameter(net, "adaAT.commn_linear.0.bias");
  scale_w_ = parameter(net, "adaAT.scale.0.weight");
  scale_b_ = parameter(net, "adaAT.scale.0.bias");
  rotation_w_ = parameter(net, "adaAT.rotation.0.weight");
  rotation_b_ = parameter(net, "adaAT.rotation.0.bias");
  shift_w_ = parameter(net, "adaAT.translation.0.weight");
  shift_b_ = parameter(net, "adaAT.translation.0.bias");
}

void AdaptiveWarp::set_reference(const at::Tensor& appearance) {
  // Everything follows the reference features to their device.
  const at::Device device = appearance.device();
  for (at::Tensor* w : {&common_w_, &common_b_, &scale_w_, &scale_b_, &rotation_w_, &rotation_b_, &shift_w_, &shift_b_})
    *w = w->to(device);
  const at::Tensor x = appearance.to(at::kFloat)[0];
  const int64_t depth = x.size(0);
  // grid_sample's unnormalisation (align_corners=False) of the published depth coordinate.
  const at::Tensor iz = base_coordinates(depth).to(device).add(1).mul(static_cast<double>(depth)).sub(1).div(2);
  const at::Tensor z0 = iz.floor();
  weights_ = torch::stack({z0 + 1 - iz, iz - z0}, 1);
  const at::Tensor zero = torch::zeros_like(x[0]);
  std::vector<at::Tensor> pairs;
  for (int64_t k = 0; k < depth; ++k) {
    const int64_t c = static_cast<int64_t>(z0[k].item<float>());
    pairs.push_back(torch::stack({c >= 0 && c < depth ? x[c] : zero, c + 1 >= 0 && c + 1 < depth ? x[c + 1] : zero}));
  }
  pairs_ = torch::stack(pairs);
}

at::Tensor AdaptiveWarp::operator()(const at::Tensor& para_code) const {
  const at::Tensor code = at::linear(para_code.to(pairs_.device(), at::kFloat), common_w_, common_b_).relu_();
  const int64_t batch = code.size(0), depth = pairs_.size(0), height = pairs_.size(2), width = pairs_.size(3);
  const at::Tensor scale = at::linear(code, scale_w_, scale_b_).sigmoid().mul(2).view({batch, depth, 1, 1});
  const at::Tensor angle = at::linear(code, rotation_w_, rotation_b_).tanh().mul(3.14159).view({batch, depth, 1, 1});
  const at::Tensor shift = at::linear(code, shift_w_, shift_b_).tanh().view({batch, depth, 2, 1, 1});
  const at::Tensor x = base_coordinates(width).to(code.device()).view({1, 1, 1, width});
  const at::Tensor y = base_coordinates(height).to(code.device()).view({1, 1, height, 1});
  const at::Tensor cos = angle.cos(), sin = angle.sin();
  const at::Tensor warped_x = (cos * x - sin * y) * scale + shift.select(2, 0);
  const at::Tensor warped_y = (sin * x + cos * y) * scale + shift.select(2, 1);
  // Channel k of every frame samples the same two reference channels: the frames' grids
  // are stacked along the height, (D, B * h, w, 2), so the reference is not copied per frame.
  const at::Tensor grid = torch::stack({warped_x, warped_y}, -1).transpose(0, 1).reshape({depth, batch * height, width, 2});
  namespace F = torch::nn::functional;
  const at::Tensor sampled = F::grid_sample(
      pairs_, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
  return (sampled * weights_.view({depth, 2, 1, 1})).sum(1).view({depth, batch, height, width}).transpose(0, 1);
}

}  // namespace dinet::infer
