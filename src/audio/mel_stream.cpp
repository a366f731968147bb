#include "audio/mel_stream.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "audio/mel_bank.h"
#include "dinet/audio_features.h"

namespace dinet::audio {
namespace {

// Typical speech, used until enough sound has been heard: the batch statistics (log10 units)
// of the six real clips' utterances in ../shared/data/real: peak 0.76 .. 2.12 (mean 1.51),
// mean -4.74 .. -3.00 (-3.75), std 1.62 .. 1.93 (1.74).
constexpr double kPriorPeak = 1.5, kPriorMean = -3.75, kPriorStd = 1.75;
// A hop whose bands are all under this is digital silence (zero samples give 1e-20).
constexpr float kSilentLog = -15.0f;

}  // namespace

MelStream::MelStream(const MelStreamOptions& options) : options_(options) {}

void MelStream::push(std::span<const float> samples) {
  buffer_.insert(buffer_.end(), samples.begin(), samples.end());
  compute_ready_hops();
}

void MelStream::push(std::span<const int16_t> samples) {
  buffer_.reserve(buffer_.size() + samples.size());
  for (int16_t s : samples) buffer_.push_back(static_cast<float>(s) / 32768.0f);
  compute_ready_hops();
}

void MelStream::compute_ready_hops() {
  // Hop h needs samples up to 160 h + kMelWindowStart + kMelWindow.
  const int64_t available = samples_pushed();
  const int64_t needed = kMelWindowStart + kMelWindow;  // hop 0's last sample + 1
  const int64_t ready = available < needed ? 0 : (available - needed) / kMelHop + 1;
  const int64_t count = std::max<int64_t>(0, ready - next_hop_);
  if (count == 0) return;
  const at::Tensor log_mel = log_mel_hops(buffer_.data(), static_cast<int64_t>(buffer_.size()),
                                          next_hop_ * kMelHop - base_, count);
  const float* values = log_mel.data_ptr<float>();
  for (int64_t h = 0; h < count; ++h) {
    const float* hop = values + h * kMelBands;
    pending_.insert(pending_.end(), hop, hop + kMelBands);
    const bool silent = *std::max_element(hop, hop + kMelBands) < kSilentLog;
    pending_silent_.push_back(silent);
    if (!silent) {
      history_.emplace_back(hop, hop + kMelBands);
      if (static_cast<double>(history_.size()) > options_.window_seconds * 100) history_.pop_front();
    }
  }
  next_hop_ += count;
  // Keep only what later hops read (their windows start at 160 h + kMelWindowStart).
  const int64_t keep_from = std::max<int64_t>(0, next_hop_ * kMelHop + kMelWindowStart);
  if (keep_from > base_) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + (keep_from - base_));
    base_ = keep_from;
  }
}

MelStream::Stats MelStream::stats() const {
  if (history_.empty()) return {kPriorPeak, kPriorMean, kPriorStd};
  float peak = -1e30f;
  for (const auto& hop : history_) peak = std::max(peak, *std::max_element(hop.begin(), hop.end()));
  const double floor = peak - kMelFloorDecades;
  double sum = 0, sum2 = 0;
  for (const auto& hop : history_)
    for (float v : hop) {
      const double c = std::max<double>(v, floor);
      sum += c;
      sum2 += c * c;
    }
  const double n = static_cast<double>(history_.size()) * kMelBands;
  const double mean = sum / n;
  const double std = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
  const double heard = std::min(1.0, static_cast<double>(history_.size()) / (options_.prior_seconds * 100));
  return {heard * peak + (1 - heard) * kPriorPeak, heard * mean + (1 - heard) * kPriorMean,
          heard * std + (1 - heard) * kPriorStd};
}

at::Tensor MelStream::pop() {
  const int64_t rows = static_cast<int64_t>(pending_silent_.size()) / kMelHopsPerFrame;
  at::Tensor out = at::empty({rows, kMelChannels}, at::kFloat);
  if (rows == 0) return out;
  const Stats s = stats();
  const double floor = s.peak - kMelFloorDecades;
  const double scale = s.std > 1e-6 ? 1.0 / s.std : 1.0;
  float* o = out.data_ptr<float>();
  const int64_t values = rows * kMelChannels;
  for (int64_t i = 0; i < values; ++i) {
    const bool silent = pending_silent_[i / kMelBands];
    const double v = silent ? floor : std::max<double>(pending_[i], floor);
    o[i] = static_cast<float>((v - s.mean) * scale);
  }
  pending_.erase(pending_.begin(), pending_.begin() + values);
  pending_silent_.erase(pending_silent_.begin(), pending_silent_.begin() + rows * kMelHopsPerFrame);
  rows_popped_ += rows;
  return out;
}

at::Tensor MelStream::silence_row() const {
  const Stats s = stats();
  const double scale = s.std > 1e-6 ? 1.0 / s.std : 1.0;
  return at::full({kMelChannels}, static_cast<float>((s.peak - kMelFloorDecades - s.mean) * scale), at::kFloat);
}

}  // namespace dinet::audio
