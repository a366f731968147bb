// The built-in mel feature (mel_features, audio_features.h) computed as 16 kHz samples arrive,
// for live sessions.
//
// Look-ahead: row t (video frame t, samples [640 t, 640 t + 640)) is complete once samples up to
// 640 t + 760 have arrived (its last hop's 25 ms window reaches 120 samples past the frame).
// The generator's 5-row window centred on frame t needs rows up to t + 2, so frame t can be
// generated once samples up to 640 t + 2040 are in: 127.5 ms after the frame's first sample.
//
// Normalisation: the batch feature normalises by the whole utterance's peak, mean and std,
// which a stream cannot know. Here the same three statistics are taken over the hops of the
// last `window_seconds` that are not digital silence, blended with a prior (typical speech, as
// measured on the real clips) while less than `prior_seconds` of sound has been heard. Digital
// silence (every sample of a hop's window zero, e.g. no input) is kept out of the statistics
// and maps to the floor, 8 decades under the peak, as padding does in the batch feature.
// Rows are normalised when popped, with the statistics of that moment.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace dinet::audio {

struct MelStreamOptions {
  double window_seconds = 20.0;  // the statistics' memory
  double prior_seconds = 1.0;    // sound heard before the prior stops counting
};

class MelStream {
 public:
  static constexpr int64_t kSamplesPerRow = 640;
  static constexpr int64_t kRowLookahead = 120;  // samples past a row's end that it needs
  // Samples past the start of frame t that its generator window (rows t-2 .. t+2) needs.
  static constexpr int64_t kWindowLookahead = 2 * kSamplesPerRow + kSamplesPerRow + kRowLookahead;

  explicit MelStream(const MelStreamOptions& options = {});

  // 16 kHz mono samples, float in [-1, 1] or int16.
  void push(std::span<const float> samples);
  void push(std::span<const int16_t> samples);

  // The rows completed since the last pop, normalised: (rows, 320) float32, maybe 0 rows.
  at::Tensor pop();
  // A row of digital silence under the current statistics: (320).
  at::Tensor silence_row() const;

  int64_t samples_pushed() const { return base_ + static_cast<int64_t>(buffer_.size()); }
  int64_t rows_popped() const { return rows_popped_; }

 private:
  struct Stats {
    double peak, mean, std;
  };
  Stats stats() const;
  void compute_ready_hops();

  MelStreamOptions options_;
  std::vector<float> buffer_;  // samples from absolute index base_
  int64_t base_ = 0;
  int64_t next_hop_ = 0;
  std::vector<float> pending_;          // unnormalised log-mel of computed hops not yet popped
  std::vector<uint8_t> pending_silent_;  // per pending hop
  int64_t rows_popped_ = 0;
  std::deque<std::vector<float>> history_;  // recent non-silent hops (80 each) for the statistics
};

}  // namespace dinet::audio
