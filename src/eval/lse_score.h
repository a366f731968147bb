// LSE-C and LSE-D of one video as syncnet_python computes them (SyncNetInstance.evaluate and
// calc_pdist with vshift 15): embeddings of every 5-frame window of face crops and of its
// MFCC window, then distances over audio shifts of -15..15 windows.
#pragma once

#include <ATen/Tensor.h>
#include <opencv2/core.hpp>

#include <cstdint>
#include <span>
#include <vector>

#include "dinet/evaluate.h"
#include "eval/lse_syncnet.h"

namespace dinet::eval {

inline constexpr int kLseMaxShift = 15;  // run_syncnet.py --vshift

// Windows scored for `frames` video frames and `samples` 16 kHz samples: min(frames,
// floor(samples / 640)) - 5, none when that is not positive (evaluate's `lastframe`).
int64_t lse_window_count(int64_t frames, int64_t samples);

struct LseEmbeddings {
  at::Tensor lip, audio;  // (windows, 1024) each
};

// Lip embeddings of the windows of `crops` (224x224 BGR, CV_8UC3): window i holds crops
// i .. i+4, so there are crops.size() - 4 (none for fewer than 5 crops). Throws dinet::Error
// for a crop of another kind.
at::Tensor lse_lip_embeddings(LseSyncNet& net, std::span<const cv::Mat> crops);
// Audio embeddings of windows 0 .. windows-1: window i holds MFCC columns 4i .. 4i+20 of
// `mfcc` (13, M). Throws dinet::Error when the MFCC is too short.
at::Tensor lse_audio_embeddings(LseSyncNet& net, const at::Tensor& mfcc, int64_t windows);
// Both, for the first `windows` windows. Throws dinet::Error when the crops or the MFCC are
// too short or there are no windows.
LseEmbeddings lse_embeddings(LseSyncNet& net, const std::vector<cv::Mat>& crops, const at::Tensor& mfcc,
                             int64_t windows);

// calc_pdist (pairwise_distance, eps 1e-6; zero audio embeddings beyond the ends), the mean
// over windows per shift, the least of them (LSE-D), the median minus it (LSE-C) and the
// offset. Throws dinet::Error when there are no windows.
LseFigures lse_figures(const LseEmbeddings& embeddings);

}  // namespace dinet::eval
