#include "infer/int8.h"

#include <algorithm>
#include <cmath>

#include "dinet/error.h"

namespace dinet::infer {
namespace {

// The first batch's extremes may be exceeded by later frames (a wider mouth, other light);
// values beyond the range saturate. Resolution mattered more than saturation on the clips
// measured (docs/PERFORMANCE.md): fp32 -> int8 PSNR 48.2 / 47.4 / 46.4 / 44.8 dB with 1, 1.25,
// 1.5 and 2x headroom.
constexpr double kHeadroom = 1.25;

}  // namespace

void Range::include(const at::Tensor& x) {
  low_ = std::min(low_, x.min().item<double>());
  high_ = std::max(high_, x.max().item<double>());
}

Quantization Range::quantization() const {
  const double scale = std::max(high_ - low_, 1e-6) * kHeadroom / 255;
  return {scale, std::clamp<int64_t>(std::llround(-low_ * kHeadroom / scale), 0, 255)};
}

QuantizedResBlock::QuantizedResBlock(ResBlock block) : RecordedRanges(3), block_(std::move(block)) {
  if (block_.channel_conv) throw Error("int8 ResBlock: blocks that change the channel count stay in bf16");
  scale1_ = block_.scale1.to(at::kFloat).contiguous();
  shift1_ = block_.shift1.to(at::kFloat).contiguous();
  conv1_ = quantize_conv(block_.conv1);
  conv2_ = quantize_conv(block_.conv2);
}

at::Tensor QuantizedResBlock::operator()(const at::Tensor& x) {
  if (record_) {
    const at::Tensor a = at::addcmul(block_.shift1, x, block_.scale1).relu_();
    const at::Tensor h = block_.conv1(a).relu_();
    const at::Tensor o = block_.conv2(h);
    ranges_[0].include(a);
    ranges_[1].include(h);
    ranges_[2].include(o);
    record_ = false;
    return o.add_(x);
  }
  const at::Tensor qa = quantize(x, ranges_[0].quantization(), scale1_, shift1_);
  const at::Tensor qh = conv1_(qa, ranges_[1].quantization(), /*relu=*/true);
  const at::Tensor qo = conv2_(qh, ranges_[2].quantization(), /*relu=*/false);
  return dequantize(qo, x, x.scalar_type());
}

QuantizedConvReluChain::QuantizedConvReluChain(std::vector<ConvRelu> layers)
    : RecordedRanges(layers.size() + 1), layers_(std::move(layers)) {
  for (const ConvRelu& layer : layers_) quantized_.push_back(quantize_conv(layer.conv));
}

at::Tensor QuantizedConvReluChain::operator()(const at::Tensor& x) {
  if (record_) {
    ranges_[0].include(x);
    at::Tensor y = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
      y = layers_[i](y);
      ranges_[i + 1].include(y);
    }
    record_ = false;
    return y;
  }
  at::Tensor q = quantize(x, ranges_[0].quantization());
  for (size_t i = 0; i < quantized_.size(); ++i) q = quantized_[i](q, ranges_[i + 1].quantization(), /*relu=*/true);
  return dequantize(q, {}, x.scalar_type());
}

QuantizedUpBlock::QuantizedUpBlock(UpBlock block)
    : RecordedRanges(2), block_(std::move(block)), phases_(quantize_conv(block_.phases)) {}

at::Tensor QuantizedUpBlock::space_to_depth(const at::Tensor& x) {
  if (record_) {
    at::Tensor y = block_.space_to_depth(x);
    ranges_[0].include(x);
    ranges_[1].include(y);  // the phases' values that are kept
    record_ = false;
    return y;
  }
  const at::Tensor q = phases_(quantize(x, ranges_[0].quantization()), ranges_[1].quantization(), /*relu=*/true);
  return dequantize_phases(q, x.size(2), x.size(3), x.scalar_type());
}

}  // namespace dinet::infer
