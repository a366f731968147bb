#include "infer/alignment.h"

#include <ATen/Parallel.h>
#include <torch/nn/functional/vision.h>
#include <torch/nn/modules/conv.h>
#include <torch/torch.h>

#include "dinet/error.h"
#include "dinet/networks.h"
#include "infer/layers.h"

namespace dinet::infer {
namespace {

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

// AdaAT's base grid in float32, as the module computes it.
at::Tensor float_base_coordinates(int64_t n) { return adaat_base_coordinates(n, torch::kFloat); }

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
  const at::Tensor iz = float_base_coordinates(depth).add(1).mul(static_cast<double>(depth)).sub(1).div(2);
  const auto channel = [&](int64_t c) { return c >= 0 && c < depth ? x[c] : torch::zeros_like(x[0]); };
  std::vector<at::Tensor> planes;
  for (int64_t k = 0; k < depth; ++k) {
    const float z = iz[k].item<float>(), z0 = std::floor(z);
    const int64_t c = static_cast<int64_t>(z0);
    planes.push_back(channel(c) * (z0 + 1 - z) + channel(c + 1) * (z - z0));
  }
  planes_ = torch::stack(planes).contiguous();
}

AdaptiveWarp::Transform AdaptiveWarp::transform(const at::Tensor& para_code) const {
  const at::Tensor code = at::linear(para_code.to(planes_.device(), at::kFloat), common_w_, common_b_).relu_();
  const at::Tensor angle = at::linear(code, rotation_w_, rotation_b_).tanh().mul(3.14159);
  return {at::linear(code, scale_w_, scale_b_).sigmoid().mul(2), angle.cos(), angle.sin(),
          at::linear(code, shift_w_, shift_b_).tanh().view({code.size(0), -1, 2})};
}

// Every frame's channels warped, one plane at a time -> (B, D, h, w). Each output pixel is
// grid_sample's bilinear sample (align_corners=False, zeros outside) with its arithmetic.
at::Tensor AdaptiveWarp::warp_on_cpu(const Transform& transform) const {
  const int64_t batch = transform.scale.size(0), depth = planes_.size(0), height = planes_.size(1),
                width = planes_.size(2);
  const at::Tensor xs = float_base_coordinates(width), ys = float_base_coordinates(height);
  const at::Tensor s = transform.scale.contiguous(), c = transform.cos.contiguous(), n = transform.sin.contiguous(),
                   t = transform.shift.contiguous();
  at::Tensor out = at::empty({batch, depth, height, width}, at::kFloat);
  const float *x_at = xs.data_ptr<float>(), *y_at = ys.data_ptr<float>();
  at::parallel_for(0, batch * depth, 1, [&](int64_t begin, int64_t end) {
    for (int64_t bk = begin; bk < end; ++bk) {
      const float* plane = planes_.data_ptr<float>() + (bk % depth) * height * width;
      const float sk = s.data_ptr<float>()[bk], ck = c.data_ptr<float>()[bk], nk = n.data_ptr<float>()[bk];
      const float tx = t.data_ptr<float>()[2 * bk], ty = t.data_ptr<float>()[2 * bk + 1];
      float* o = out.data_ptr<float>() + bk * height * width;
      // A corner's value, 0 outside the plane.
      const auto corner = [&](int64_t r, int64_t col) {
        return r >= 0 && r < height && col >= 0 && col < width ? plane[r * width + col] : 0.f;
      };
      for (int64_t i = 0; i < height; ++i) {
        const float y = y_at[i];
        for (int64_t j = 0; j < width; ++j, ++o) {
          const float x = x_at[j];
          const float gx = (ck * x - nk * y) * sk + tx, gy = (nk * x + ck * y) * sk + ty;
          const float ix = ((gx + 1) * width - 1) / 2, iy = ((gy + 1) * height - 1) / 2;
          // floor() without a library call (the portable build has no SSE4.1 rounding).
          const int64_t col = static_cast<int64_t>(ix) - (ix < 0 && ix != static_cast<int64_t>(ix));
          const int64_t row = static_cast<int64_t>(iy) - (iy < 0 && iy != static_cast<int64_t>(iy));
          const float x0 = static_cast<float>(col), y0 = static_cast<float>(row);
          const float east = ix - x0, west = x0 + 1 - ix, south = iy - y0, north = y0 + 1 - iy;
          if (row >= 0 && row + 1 < height && col >= 0 && col + 1 < width) {
            const float* p = plane + row * width + col;
            *o = p[0] * west * north + p[1] * east * north + p[width] * west * south + p[width + 1] * east * south;
          } else {
            *o = corner(row, col) * west * north + corner(row, col + 1) * east * north +
                 corner(row + 1, col) * west * south + corner(row + 1, col + 1) * east * south;
          }
        }
      }
    }
  });
  return out;
}

at::Tensor AdaptiveWarp::operator()(const at::Tensor& para_code) const {
  if (!planes_.device().is_cpu()) return with_grid_sampler(para_code);
  return warp_on_cpu(transform(para_code));
}

at::Tensor AdaptiveWarp::with_grid_sampler(const at::Tensor& para_code) const {
  const Transform t = transform(para_code);
  const int64_t batch = t.scale.size(0), depth = planes_.size(0), height = planes_.size(1), width = planes_.size(2);
  const auto per_pixel = [&](const at::Tensor& p) { return p.view({batch, depth, 1, 1}); };
  const at::Tensor x = float_base_coordinates(width).to(planes_.device()).view({1, 1, 1, width});
  const at::Tensor y = float_base_coordinates(height).to(planes_.device()).view({1, 1, height, 1});
  const at::Tensor scale = per_pixel(t.scale), cos = per_pixel(t.cos), sin = per_pixel(t.sin);
  const at::Tensor warped_x = (cos * x - sin * y) * scale + per_pixel(t.shift.select(2, 0));
  const at::Tensor warped_y = (sin * x + cos * y) * scale + per_pixel(t.shift.select(2, 1));
  // Channel k of every frame samples the same plane: the frames' grids are stacked along
  // the height, (D, B * h, w, 2), so the reference is not copied per frame.
  const at::Tensor grid = torch::stack({warped_x, warped_y}, -1).transpose(0, 1).reshape({depth, batch * height, width, 2});
  namespace F = torch::nn::functional;
  const at::Tensor sampled = F::grid_sample(
      planes_.unsqueeze(1), grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
  return sampled.view({depth, batch, height, width}).transpose(0, 1);
}

}  // namespace dinet::infer
