#include "infer/layers.h"

#include <torch/nn/modules/conv.h>
#include <torch/torch.h>

#include "dinet/error.h"

namespace dinet::infer {
namespace {

std::shared_ptr<torch::nn::Module> child(torch::nn::Module& net, const std::string& name) {
  const auto modules = net.named_modules();
  if (const auto* found = modules.find(name)) return *found;
  throw Error("DINet generator: no module " + name);
}

template <typename Impl>
Impl& child_as(torch::nn::Module& net, const std::string& name) {
  auto* impl = dynamic_cast<Impl*>(child(net, name).get());
  if (!impl) throw Error("DINet generator: " + name + " is not a " + typeid(Impl).name());
  return *impl;
}

Conv placed(at::Tensor weight, at::Tensor bias, int64_t stride, int64_t padding,
            const LayerTarget& target) {
  Conv conv;
  conv.weight = weight.to(target.device, target.dtype).contiguous(at::MemoryFormat::ChannelsLast);
  conv.bias = bias.to(target.device, target.dtype);
  conv.stride = stride;
  conv.padding = padding;
  return conv;
}

// Weights in float32 on the CPU, for folding; `target` decides where the result lives.
Conv raw_conv(torch::nn::Conv2dImpl& conv) {
  const auto& o = conv.options;
  const auto stride = o.stride()->at(0);
  // Unqualified: found by argument-dependent lookup as c10::get_if (LibTorch 1, c10::variant)
  // or std::get_if (LibTorch 2, std::variant).
  const auto* padding = get_if<torch::ExpandingArray<2>>(&o.padding());
  if (!padding || o.stride()->at(1) != stride || (*padding)->at(0) != (*padding)->at(1))
    throw Error("DINet generator: expected square strides and paddings");
  Conv c;
  c.weight = conv.weight.detach().to(at::kCPU, at::kFloat);
  c.bias = conv.bias.defined() ? conv.bias.detach().to(at::kCPU, at::kFloat)
                               : torch::zeros({c.weight.size(0)});
  c.stride = stride;
  c.padding = (*padding)->at(0);
  return c;
}

Conv folded(torch::nn::Module& net, const std::string& conv_name, const std::string& norm_name,
            const LayerTarget& target) {
  torch::NoGradGuard no_grad;
  Conv c = raw_conv(child_as<torch::nn::Conv2dImpl>(net, conv_name));
  const auto [scale, shift] = batch_norm_affine(net, norm_name);
  return placed(c.weight * scale.view({-1, 1, 1, 1}), c.bias * scale + shift, c.stride, c.padding,
                target);
}

// Every BatchNorm of the published networks uses PyTorch's default eps (reference 3).
constexpr double kBatchNormEps = 1e-5;

}  // namespace

bool has_module(torch::nn::Module& net, const std::string& name) {
  return net.named_modules().find(name) != nullptr;
}

at::Tensor parameter(torch::nn::Module& net, const std::string& name) {
  const auto params = net.named_parameters();
  if (const at::Tensor* t = params.find(name)) return t->detach().to(at::kCPU, at::kFloat);
  const auto buffers = net.named_buffers();
  if (const at::Tensor* t = buffers.find(name)) return t->detach().to(at::kCPU, at::kFloat);
  throw Error("DINet generator: no parameter " + name);
}

std::pair<at::Tensor, at::Tensor> batch_norm_affine(torch::nn::Module& net, const std::string& name) {
  const at::Tensor scale = parameter(net, name + ".weight") / (parameter(net, name + ".running_var") + kBatchNormEps).sqrt();
  return {scale, parameter(net, name + ".bias") - parameter(net, name + ".running_mean") * scale};
}

at::Tensor channels_last(const at::Tensor& x) { return x.contiguous(at::MemoryFormat::ChannelsLast); }

at::Tensor Conv::operator()(const at::Tensor& x) const {
  return at::conv2d(x, weight, bias, {stride, stride}, {padding, padding});
}

Conv folded_conv(torch::nn::Module& net, const std::string& prefix, const LayerTarget& target) {
  const auto modules = net.named_modules();
  if (modules.find(prefix + ".norm")) return folded(net, prefix + ".conv", prefix + ".norm", target);
  torch::NoGradGuard no_grad;
  Conv c = raw_conv(child_as<torch::nn::Conv2dImpl>(net, prefix));
  return placed(c.weight, c.bias, c.stride, c.padding, target);
}

Conv input_slice(const Conv& conv, int64_t begin, int64_t end, bool keep_bias) {
  Conv part = conv;
  part.weight = channels_last(conv.weight.slice(1, begin, end));
  if (!keep_bias) part.bias = at::zeros_like(conv.bias);
  return part;
}

at::Tensor ConvRelu::operator()(const at::Tensor& x) const { return conv(x).relu_(); }

ResBlock res_block(torch::nn::Module& net, const std::string& prefix, const LayerTarget& target) {
  torch::NoGradGuard no_grad;
  ResBlock block;
  const auto [scale, shift] = batch_norm_affine(net, prefix + ".norm1");
  block.scale1 = scale.view({1, -1, 1, 1}).to(target.device, target.dtype);
  block.shift1 = shift.view({1, -1, 1, 1}).to(target.device, target.dtype);
  block.conv1 = folded(net, prefix + ".conv1", prefix + ".norm2", target);
  const Conv conv2 = raw_conv(child_as<torch::nn::Conv2dImpl>(net, prefix + ".conv2"));
  block.conv2 = placed(conv2.weight, conv2.bias, conv2.stride, conv2.padding, target);
  if (net.named_modules().find(prefix + ".channel_conv")) {
    const Conv skip = raw_conv(child_as<torch::nn::Conv2dImpl>(net, prefix + ".channel_conv"));
    block.channel_conv = placed(skip.weight, skip.bias, skip.stride, skip.padding, target);
  }
  return block;
}

at::Tensor ResBlock::operator()(const at::Tensor& x) const {
  at::Tensor h = conv1(at::addcmul(shift1, x, scale1).relu_()).relu_();
  h = conv2(h);
  return h.add_(channel_conv ? (*channel_conv)(x) : x);
}

UpBlock up_block(torch::nn::Module& net, const std::string& prefix, const LayerTarget& target) {
  const Conv conv = folded(net, prefix + ".conv", prefix + ".norm", LayerTarget{});
  if (conv.weight.size(2) != 3 || conv.padding != 1 || conv.stride != 1)
    throw Error("DINet generator: " + prefix + " is not a 3x3 convolution");
  // Output row 2i + a of the upsampled image reads input rows i - 1 + a and i + a; the three
  // kernel rows fall onto those two as rows[a] says (the same for columns).
  const at::Tensor rows[2] = {torch::tensor({1.f, 0.f, 0.f, 0.f, 1.f, 1.f}).view({2, 3}),
                              torch::tensor({1.f, 1.f, 0.f, 0.f, 0.f, 1.f}).view({2, 3})};
  const at::Tensor w = conv.weight.contiguous();
  std::vector<at::Tensor> phases;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) phases.push_back(torch::einsum("ik,ockl,jl->ocij", {rows[a], w, rows[b]}));
  UpBlock up;
  up.phases = placed(torch::cat(phases, 0), conv.bias.repeat({4}), 1, 1, target);
  return up;
}

namespace {

// The four phases of an UpBlock's output, each (B, h, w, C), written by `place` into their slot.
template <typename Place>
void copy_phases(const UpBlock& up, const at::Tensor& x, Place place) {
  const int64_t height = x.size(2), width = x.size(3), channels = up.phases.weight.size(0) / 4;
  // Padded by one on every side, the 2x2 output at (u, v) reads input rows u-1..u and
  // columns v-1..v: phase (a, b) of low-resolution pixel (i, j) sits at (i + a, j + b).
  const at::Tensor y = up.phases(x).relu_();
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      place(a, b, y.narrow(1, (2 * a + b) * channels, channels).narrow(2, a, height).narrow(3, b, width)
                      .permute({0, 2, 3, 1}));
}

}  // namespace

at::Tensor UpBlock::operator()(const at::Tensor& x) const {
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3), channels = phases.weight.size(0) / 4;
  at::Tensor out = at::empty({batch, height, 2, width, 2, channels}, x.options().memory_format(at::MemoryFormat::Contiguous));
  copy_phases(*this, x, [&](int a, int b, const at::Tensor& phase) { out.select(4, b).select(2, a).copy_(phase); });
  // (B, H, 2, W, 2, C) is the channels-last memory of (B, C, 2H, 2W).
  return out.view({batch, 2 * height, 2 * width, channels}).permute({0, 3, 1, 2});
}

at::Tensor UpBlock::space_to_depth(const at::Tensor& x) const {
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3), channels = phases.weight.size(0) / 4;
  at::Tensor out = at::empty({batch, height, width, 4, channels}, x.options().memory_format(at::MemoryFormat::Contiguous));
  copy_phases(*this, x, [&](int a, int b, const at::Tensor& phase) { out.select(3, 2 * a + b).copy_(phase); });
  return out.view({batch, height, width, 4 * channels}).permute({0, 3, 1, 2});
}

SpaceToDepthConv space_to_depth_conv(const Conv& conv, const LayerTarget& target) {
  const int64_t out = conv.weight.size(0), in = conv.weight.size(1), k = conv.weight.size(2);
  if (conv.stride != 1 || conv.weight.size(3) != k || conv.padding != (k - 1) / 2)
    throw Error("space_to_depth_conv: expected a square stride-1 'same' convolution");
  const int64_t pad = conv.padding, reach = (pad + 1) / 2, size = 2 * reach + 1;
  // Output (2i + a, 2j + b) reads input row 2i + a + ky - pad = 2(i + du) + p: space-to-depth
  // channel (p, q, ci) at offset du, for du in [-reach, reach]. Outputs are (c, a, b), the
  // order pixel_shuffle takes.
  at::Tensor w = torch::zeros({out, 2, 2, 2, 2, in, size, size});
  const at::Tensor weight = conv.weight.to(at::kCPU, at::kFloat);
  const auto floor_div = [](int64_t v) { return v >= 0 ? v / 2 : -((1 - v) / 2); };
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t ky = 0; ky < k; ++ky)
        for (int64_t kx = 0; kx < k; ++kx) {
          const int64_t row = a + ky - pad, col = b + kx - pad;
          const int64_t du = floor_div(row), dv = floor_div(col);
          w.select(1, a).select(1, b).select(1, row - 2 * du).select(1, col - 2 * dv)
              .select(2, du + reach).select(2, dv + reach)
              .add_(weight.select(2, ky).select(2, kx));
        }
  SpaceToDepthConv s2d;
  s2d.conv = placed(w.view({4 * out, 4 * in, size, size}), conv.bias.to(at::kCPU, at::kFloat).repeat_interleave(4),
                    1, reach, target);
  return s2d;
}

at::Tensor SpaceToDepthConv::operator()(const at::Tensor& phase_major) const {
  return at::pixel_shuffle(conv(phase_major), 2);
}

}  // namespace dinet::infer
