#include "eval/lse_syncnet.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "dinet/checkpoint.h"
#include "dinet/error.h"

namespace dinet::eval {
namespace {

namespace nn = torch::nn;

// Conv + BatchNorm + ReLU, the unit both streams are built from.
void conv2d_unit(nn::Sequential& seq, int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                 torch::ExpandingArray<2> padding) {
  seq->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, kernel).padding(padding)));
  seq->push_back(nn::BatchNorm2d(out));
  seq->push_back(nn::ReLU());
}

void conv3d_unit(nn::Sequential& seq, int64_t in, int64_t out, torch::ExpandingArray<3> kernel,
                 torch::ExpandingArray<3> stride, torch::ExpandingArray<3> padding) {
  seq->push_back(nn::Conv3d(nn::Conv3dOptions(in, out, kernel).stride(stride).padding(padding)));
  seq->push_back(nn::BatchNorm3d(out));
  seq->push_back(nn::ReLU());
}

// netfcaud and netfclip: Linear 512 -> 512, BN1d, ReLU, Linear 512 -> 1024.
nn::Sequential embedding_head() {
  return nn::Sequential(nn::Linear(512, 512), nn::BatchNorm1d(512), nn::ReLU(), nn::Linear(512, kLseEmbedding));
}

}  // namespace

LseSyncNetImpl::LseSyncNetImpl() {
  // Layer indices match SyncNetModel.py, so keys such as netcnnaud.4.weight line up.
  nn::Sequential aud;
  conv2d_unit(aud, 1, 64, 3, 1);
  aud->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(1).stride(1)));
  conv2d_unit(aud, 64, 192, 3, 1);
  aud->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride({1, 2})));
  conv2d_unit(aud, 192, 384, 3, 1);
  conv2d_unit(aud, 384, 256, 3, 1);
  conv2d_unit(aud, 256, 256, 3, 1);
  aud->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2)));
  conv2d_unit(aud, 256, 512, {5, 4}, 0);
  netcnnaud_ = register_module("netcnnaud", aud);
  netfcaud_ = register_module("netfcaud", embedding_head());

  nn::Sequential lip;
  conv3d_unit(lip, 3, 96, {5, 7, 7}, {1, 2, 2}, 0);
  lip->push_back(nn::MaxPool3d(nn::MaxPool3dOptions({1, 3, 3}).stride({1, 2, 2})));
  conv3d_unit(lip, 96, 256, {1, 5, 5}, {1, 2, 2}, {0, 1, 1});
  lip->push_back(nn::MaxPool3d(nn::MaxPool3dOptions({1, 3, 3}).stride({1, 2, 2}).padding({0, 1, 1})));
  for (int i = 0; i < 3; ++i) conv3d_unit(lip, 256, 256, {1, 3, 3}, 1, {0, 1, 1});
  lip->push_back(nn::MaxPool3d(nn::MaxPool3dOptions({1, 3, 3}).stride({1, 2, 2})));
  conv3d_unit(lip, 256, 512, {1, 6, 6}, 1, 0);
  // S registers netfclip before netcnnlip: the same order keeps state_dict() identical.
  netfclip_ = register_module("netfclip", embedding_head());
  netcnnlip_ = register_module("netcnnlip", lip);
}

at::Tensor LseSyncNetImpl::forward_lip(const at::Tensor& frames) {
  const at::Tensor mid = netcnnlip_->forward(frames);
  return netfclip_->forward(mid.reshape({mid.size(0), -1}));
}

at::Tensor LseSyncNetImpl::forward_aud(const at::Tensor& mfcc) {
  const at::Tensor mid = netcnnaud_->forward(mfcc);
  return netfcaud_->forward(mid.reshape({mid.size(0), -1}));
}

LseSyncNet load_lse_syncnet(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file))
    throw Error(file.string(), "no such SyncNet weight file (syncnet_python's syncnet_v2.model)");
  LseSyncNet net;
  load_state_dict(*net, read_state_dict(file, {}), file.string(), BatchCounters::may_be_absent);
  net->eval();
  return net;
}

}  // namespace dinet::eval
