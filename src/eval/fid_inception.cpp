#include "eval/fid_inception.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

#include <string>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/files.h"

namespace dinet::eval {
namespace {

// torchvision's BasicConv2d: conv without bias, BatchNorm with TensorFlow's eps, ReLU.
class BasicConv2dImpl : public torch::nn::Module {
 public:
  BasicConv2dImpl(int64_t in, int64_t out, torch::ExpandingArray<2> kernel, int64_t stride = 1,
                  torch::ExpandingArray<2> padding = 0)
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                                            .stride(stride)
                                                            .padding(padding)
                                                            .bias(false)))),
        bn(register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(1e-3)))) {}
  at::Tensor forward(const at::Tensor& x) { return at::relu(bn(conv(x))); }

  torch::nn::Conv2d conv;
  torch::nn::BatchNorm2d bn;
};
TORCH_MODULE(BasicConv2d);

// The base of the Mixed blocks: branches registered under torchvision's names.
class MixedBlock : public torch::nn::Module {
 protected:
  BasicConv2d add(const std::string& name, int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                  int64_t stride = 1, torch::ExpandingArray<2> padding = 0) {
    return register_module(name, BasicConv2d(in, out, kernel, stride, padding));
  }
};

// TensorFlow's 3x3 average pool averages only the pixels inside the image.
at::Tensor avg_pool_without_padding(const at::Tensor& x) {
  return at::avg_pool2d(x, 3, 1, 1, /*ceil_mode=*/false, /*count_include_pad=*/false);
}

class InceptionAImpl : public MixedBlock {  // pytorch-fid's FIDInceptionA
 public:
  InceptionAImpl(int64_t in, int64_t pool_features)
      : b1x1(add("branch1x1", in, 64, 1)),
        b5x5_1(add("branch5x5_1", in, 48, 1)),
        b5x5_2(add("branch5x5_2", 48, 64, 5, 1, 2)),
        b3x3dbl_1(add("branch3x3dbl_1", in, 64, 1)),
        b3x3dbl_2(add("branch3x3dbl_2", 64, 96, 3, 1, 1)),
        b3x3dbl_3(add("branch3x3dbl_3", 96, 96, 3, 1, 1)),
        b_pool(add("branch_pool", in, pool_features, 1)) {}
  at::Tensor forward(const at::Tensor& x) {
    return at::cat({b1x1(x), b5x5_2(b5x5_1(x)), b3x3dbl_3(b3x3dbl_2(b3x3dbl_1(x))),
                    b_pool(avg_pool_without_padding(x))},
                   1);
  }
  BasicConv2d b1x1, b5x5_1, b5x5_2, b3x3dbl_1, b3x3dbl_2, b3x3dbl_3, b_pool;
};
TORCH_MODULE(InceptionA);

class InceptionBImpl : public MixedBlock {
 public:
  explicit InceptionBImpl(int64_t in)
      : b3x3(add("branch3x3", in, 384, 3, 2)),
        b3x3dbl_1(add("branch3x3dbl_1", in, 64, 1)),
        b3x3dbl_2(add("branch3x3dbl_2", 64, 96, 3, 1, 1)),
        b3x3dbl_3(add("branch3x3dbl_3", 96, 96, 3, 2)) {}
  at::Tensor forward(const at::Tensor& x) {
    return at::cat({b3x3(x), b3x3dbl_3(b3x3dbl_2(b3x3dbl_1(x))), at::max_pool2d(x, 3, 2)}, 1);
  }
  BasicConv2d b3x3, b3x3dbl_1, b3x3dbl_2, b3x3dbl_3;
};
TORCH_MODULE(InceptionB);

class InceptionCImpl : public MixedBlock {  // pytorch-fid's FIDInceptionC
 public:
  InceptionCImpl(int64_t in, int64_t c7)
      : b1x1(add("branch1x1", in, 192, 1)),
        b7x7_1(add("branch7x7_1", in, c7, 1)),
        b7x7_2(add("branch7x7_2", c7, c7, {1, 7}, 1, {0, 3})),
        b7x7_3(add("branch7x7_3", c7, 192, {7, 1}, 1, {3, 0})),
        b7x7dbl_1(add("branch7x7dbl_1", in, c7, 1)),
        b7x7dbl_2(add("branch7x7dbl_2", c7, c7, {7, 1}, 1, {3, 0})),
        b7x7dbl_3(add("branch7x7dbl_3", c7, c7, {1, 7}, 1, {0, 3})),
        b7x7dbl_4(add("branch7x7dbl_4", c7, c7, {7, 1}, 1, {3, 0})),
        b7x7dbl_5(add("branch7x7dbl_5", c7, 192, {1, 7}, 1, {0, 3})),
        b_pool(add("branch_pool", in, 192, 1)) {}
  at::Tensor forward(const at::Tensor& x) {
    return at::cat({b1x1(x), b7x7_3(b7x7_2(b7x7_1(x))),
                    b7x7dbl_5(b7x7dbl_4(b7x7dbl_3(b7x7dbl_2(b7x7dbl_1(x))))),
                    b_pool(avg_pool_without_padding(x))},
                   1);
  }
  BasicConv2d b1x1, b7x7_1, b7x7_2, b7x7_3, b7x7dbl_1, b7x7dbl_2, b7x7dbl_3, b7x7dbl_4, b7x7dbl_5, b_pool;
};
TORCH_MODULE(InceptionC);

class InceptionDImpl : public MixedBlock {
 public:
  explicit InceptionDImpl(int64_t in)
      : b3x3_1(add("branch3x3_1", in, 192, 1)),
        b3x3_2(add("branch3x3_2", 192, 320, 3, 2)),
        b7x7x3_1(add("branch7x7x3_1", in, 192, 1)),
        b7x7x3_2(add("branch7x7x3_2", 192, 192, {1, 7}, 1, {0, 3})),
        b7x7x3_3(add("branch7x7x3_3", 192, 192, {7, 1}, 1, {3, 0})),
        b7x7x3_4(add("branch7x7x3_4", 192, 192, 3, 2)) {}
  at::Tensor forward(const at::Tensor& x) {
    return at::cat({b3x3_2(b3x3_1(x)), b7x7x3_4(b7x7x3_3(b7x7x3_2(b7x7x3_1(x)))), at::max_pool2d(x, 3, 2)}, 1);
  }
  BasicConv2d b3x3_1, b3x3_2, b7x7x3_1, b7x7x3_2, b7x7x3_3, b7x7x3_4;
};
TORCH_MODULE(InceptionD);

class InceptionEImpl : public MixedBlock {  // pytorch-fid's FIDInceptionE_1 and _2
 public:
  // The FID network's last block pools its pool branch with a max, not an average.
  InceptionEImpl(int64_t in, bool max_pool_branch)
      : max_pool_branch(max_pool_branch),
        b1x1(add("branch1x1", in, 320, 1)),
        b3x3_1(add("branch3x3_1", in, 384, 1)),
        b3x3_2a(add("branch3x3_2a", 384, 384, {1, 3}, 1, {0, 1})),
        b3x3_2b(add("branch3x3_2b", 384, 384, {3, 1}, 1, {1, 0})),
        b3x3dbl_1(add("branch3x3dbl_1", in, 448, 1)),
        b3x3dbl_2(add("branch3x3dbl_2", 448, 384, 3, 1, 1)),
        b3x3dbl_3a(add("branch3x3dbl_3a", 384, 384, {1, 3}, 1, {0, 1})),
        b3x3dbl_3b(add("branch3x3dbl_3b", 384, 384, {3, 1}, 1, {1, 0})),
        b_pool(add("branch_pool", in, 192, 1)) {}
  at::Tensor forward(const at::Tensor& x) {
    const at::Tensor b3 = b3x3_1(x);
    const at::Tensor d3 = b3x3dbl_2(b3x3dbl_1(x));
    const at::Tensor pooled = max_pool_branch ? at::max_pool2d(x, 3, 1, 1) : avg_pool_without_padding(x);
    return at::cat({b1x1(x), b3x3_2a(b3), b3x3_2b(b3), b3x3dbl_3a(d3), b3x3dbl_3b(d3), b_pool(pooled)}, 1);
  }
  bool max_pool_branch;
  BasicConv2d b1x1, b3x3_1, b3x3_2a, b3x3_2b, b3x3dbl_1, b3x3dbl_2, b3x3dbl_3a, b3x3dbl_3b, b_pool;
};
TORCH_MODULE(InceptionE);

}  // namespace

FidInceptionImpl::FidInceptionImpl() {
  const auto max_pool = [] { return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2)); };
  const auto add = [this](const std::string& name, auto module) {
    layers_->push_back(register_module(name, module));
  };
  add("Conv2d_1a_3x3", BasicConv2d(3, 32, 3, 2));
  add("Conv2d_2a_3x3", BasicConv2d(32, 32, 3));
  add("Conv2d_2b_3x3", BasicConv2d(32, 64, 3, 1, 1));
  layers_->push_back(max_pool());
  add("Conv2d_3b_1x1", BasicConv2d(64, 80, 1));
  add("Conv2d_4a_3x3", BasicConv2d(80, 192, 3));
  layers_->push_back(max_pool());
  add("Mixed_5b", InceptionA(192, 32));
  add("Mixed_5c", InceptionA(256, 64));
  add("Mixed_5d", InceptionA(288, 64));
  add("Mixed_6a", InceptionB(288));
  add("Mixed_6b", InceptionC(768, 128));
  add("Mixed_6c", InceptionC(768, 160));
  add("Mixed_6d", InceptionC(768, 160));
  add("Mixed_6e", InceptionC(768, 192));
  add("Mixed_7a", InceptionD(768));
  add("Mixed_7b", InceptionE(1280, false));
  add("Mixed_7c", InceptionE(2048, true));
}

at::Tensor FidInceptionImpl::forward(const at::Tensor& rgb) {
  namespace F = torch::nn::functional;
  const at::Tensor x = F::interpolate(
      rgb, F::InterpolateFuncOptions().size(std::vector<int64_t>{299, 299}).mode(torch::kBilinear).align_corners(false));
  return layers_->forward(x * 2 - 1).mean({2, 3});
}

FidInception load_fid_inception(const std::filesystem::path& file) {
  require_file(file, "FID Inception weights file");
  StateDict state;
  int64_t classes = -1;
  for (auto& [key, tensor] : read_state_dict(file, {})) {
    if (key.rfind("fc.", 0) == 0) {  // the classifier: not part of the features
      if (key == "fc.weight") classes = tensor.size(0);
      continue;
    }
    state.emplace_back(key, tensor);
  }
  const auto has = [&state](const std::string& key) {
    for (const auto& kv : state)
      if (kv.first == key) return true;
    return false;
  };
  if (!has("Mixed_7c.branch_pool.conv.weight"))
    throw Error(file.string(), "no Mixed_7c.branch_pool.conv.weight: not pytorch-fid's Inception weights "
                               "(pt_inception-2015-12-05-6726825d.pth)");
  if (classes == 1000)
    throw Error(file.string(), "an Inception v3 with 1000 classes (torchvision's ImageNet weights?): FID is "
                               "defined with pytorch-fid's pt_inception-2015-12-05-6726825d.pth");
  // Files saved before PyTorch 0.4.1 have no num_batches_tracked; evaluation never reads it.
  StateDict completed = state;
  for (const auto& [key, tensor] : state) {
    const std::string suffix = ".running_mean";
    if (!key.ends_with(suffix)) continue;
    const std::string counter = key.substr(0, key.size() - suffix.size()) + ".num_batches_tracked";
    if (!has(counter)) completed.emplace_back(counter, at::zeros({}, at::kLong));
  }
  FidInception net;
  load_state_dict(*net, completed, file.string());
  net->eval();
  return net;
}

}  // namespace dinet::eval
