// Audio features: one vector per 25-fps video frame, the audio input of DINet and SyncNet.
//
//   deepspeech  29 channels: DeepSpeech v0.1.0 character logits, the published feature,
//               computed here without TensorFlow from the user's `output_graph.pb`.
//   mel         320 channels: log-mel (80 bands, 10 ms hop) x the 4 hops of each video frame,
//               built in, no model needed, for any language.
//   external    any channel count: a per-frame array computed elsewhere (.npy or .txt).
//
// Every feature has feature_frame_count(samples) rows for the same audio (DeepSpeech's count:
// 10 s -> 250 rows); row t belongs to video frame t, [t*40 ms, (t+1)*40 ms).
// docs/audio-features.md describes each feature and what was verified.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dinet/media.h"

namespace dinet {

// Which feature a model was trained with: checkpoints record it, inference compares it.
struct AudioFeatureSpec {
  std::string name;  // "deepspeech", "mel" or "external"
  int channels = 0;
  bool operator==(const AudioFeatureSpec&) const = default;
};

inline constexpr int kDeepSpeechChannels = 29;
inline constexpr int kMelBands = 80;
inline constexpr int kMelHopsPerFrame = 4;  // 10 ms hops per 40 ms video frame
inline constexpr int kMelChannels = kMelBands * kMelHopsPerFrame;

// The spec of a built-in feature ("deepspeech" or "mel"); throws dinet::Error otherwise.
AudioFeatureSpec audio_feature_spec(const std::string& name);
// "deepspeech (29 channels)".
std::string to_string(const AudioFeatureSpec& spec);
// Throws dinet::Error("<source>: ...") naming both features unless they are equal, e.g. a
// checkpoint trained on DeepSpeech given mel features.
void require_same_feature(const AudioFeatureSpec& model, const AudioFeatureSpec& data,
                          const std::string& source);

// Feature rows for `samples` at 16 kHz, the published DeepSpeech count (reference 2.1):
// ceil(ceil(N_mfcc / 2) / 2) with N_mfcc = 1 + ceil((samples - 400) / 160), 1 when
// samples <= 400.
int64_t feature_frame_count(int64_t samples_16k);

// ---- feature files --------------------------------------------------------------------------

// A (frames, channels) float32 array from `.txt` (numpy savetxt: one row per frame, numbers
// separated by spaces, any float format, as the published `<video>_deepspeech.txt`) or `.npy`.
// `expected_frames` (the video's frame count) and `expected_channels` are checked when given.
// Throws dinet::Error naming the file (and the line for text).
at::Tensor read_feature_file(const std::filesystem::path& file,
                             std::optional<int64_t> expected_frames = std::nullopt,
                             std::optional<int> expected_channels = std::nullopt);
// Writes (frames, channels) features atomically: `.txt` exactly as numpy
// `savetxt(file, a)` ('%.18e', space separated), `.npy` as float32.
void write_feature_file(const std::filesystem::path& file, const at::Tensor& features);

// ---- DeepSpeech v0.1.0 ------------------------------------------------------------------------

// The published front end's samples: 16 kHz (resampled when needed), int16 by truncation
// toward zero, as `resampled.astype(np.int16)` in the published code.
std::vector<int16_t> deepspeech_pcm(const Audio& audio);
// python_speech_features 0.6 mfcc(pcm, 16000, numcep=cepstra) with its other defaults (25 ms
// rectangular frames every 10 ms, pre-emphasis 0.97, NFFT 512, 26 filters, lifter 22, c0
// replaced by the log energy) on 16 kHz int16 samples: (N_mfcc, cepstra) float64, N_mfcc =
// 1 + ceil((samples - 400) / 160), 1 when samples <= 400. Throws dinet::Error unless
// 1 <= cepstra <= 26. The DeepSpeech front end takes 26 cepstra, the LSE SyncNet 13.
at::Tensor speech_features_mfcc(const std::vector<int16_t>& pcm, int cepstra);
// speech_features_mfcc(pcm, 26), the published DeepSpeech front end's.
at::Tensor deepspeech_mfcc(const std::vector<int16_t>& pcm);
// Every second MFCC frame with 9 frames of zero-padded context on each side, flattened to
// 494 and normalised by the global mean and std: (T_ds, 494) float32, the network input.
at::Tensor deepspeech_input_vectors(const at::Tensor& mfcc);

// Precision of the DeepSpeech LSTM's recurrent weights, the product that bounds its speed (all
// 64 MiB per direction are read at every step). fp32: the published features. bf16: the
// weights rounded to bfloat16 (sums stay float32): half the LSTM's memory traffic, about a
// third less time for the network; the logits move by about 3e-4 of their range. int8: each
// weight row quantized symmetrically to int8 with one float scale (sums stay float32): a
// quarter of the bytes, 16 MiB per direction, which fits the L3 cache when the two threads
// share one direction at a time: about 0.6 of bf16's time; the logits move by about 1.5e-3
// of their range
// (docs/audio-features.md).
enum class DeepSpeechPrecision { fp32, bf16, int8 };
DeepSpeechPrecision deepspeech_precision(const std::string& name);  // "fp32", "bf16", "int8"
const char* to_string(DeepSpeechPrecision precision);

// The DeepSpeech network read from a frozen TensorFlow graph (`output_graph.pb`); the
// graph is parsed once and the network runs in LibTorch on the CPU. Thread-safe to share.
class DeepSpeech {
 public:
  // Throws dinet::Error naming the file when it is not a GraphDef or lacks a weight of the
  // expected name and shape.
  explicit DeepSpeech(const std::filesystem::path& graph_file,
                      DeepSpeechPrecision precision = DeepSpeechPrecision::fp32);
  ~DeepSpeech();
  DeepSpeech(DeepSpeech&&) noexcept;
  DeepSpeech& operator=(DeepSpeech&&) noexcept;

  // Logits for the network input: (T_ds, 494) -> (T_ds, 29).
  at::Tensor logits(const at::Tensor& input_vectors) const;
  // The published feature: every second step of the logits, (feature_frame_count, 29).
  at::Tensor features(const Audio& audio) const;
  // "494 -> 2048 -> 2048 -> 4096 -> BiLSTM 2048 -> 2048 -> 29", read from the weights.
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- built-in log-mel ---------------------------------------------------------------------------

// (feature_frame_count, 320) float32. Hop h (10 ms) has a 400-sample (25 ms) Hann window
// centred on the middle of [160 h, 160 h + 160) at 16 kHz; 512-point power spectrum; 80
// Slaney mel bands 0..8 kHz (librosa's default filters); log10 with a floor 8 decades below
// the utterance's peak; normalised by the utterance's mean and std. Row t holds hops
// 4t .. 4t+3 (band-fastest: channel = 80 * hop_in_frame + band), i.e. exactly video frame
// t's 40 ms. Audio at another rate is resampled to 16 kHz first.
at::Tensor mel_features(const Audio& audio);

// ---- one entry point for every built-in feature --------------------------------------------------

struct AudioFeatureOptions {
  std::string type = "mel";                // "deepspeech" or "mel"
  std::filesystem::path deepspeech_model;  // output_graph.pb, required for "deepspeech"
  DeepSpeechPrecision deepspeech_precision = DeepSpeechPrecision::fp32;
};

// Loads what a feature needs once (the DeepSpeech graph), then computes features for many
// files; thread-safe to share between threads.
class AudioFeatureExtractor {
 public:
  // Throws dinet::Error for an unknown type or, for "deepspeech", a missing or bad graph.
  explicit AudioFeatureExtractor(const AudioFeatureOptions& options);
  ~AudioFeatureExtractor();

  const AudioFeatureSpec& spec() const;
  at::Tensor compute(const Audio& audio) const;
  // Any audio or video file; DeepSpeech reads channel 0 as the published code does, mel
  // the mix of all channels.
  at::Tensor compute(const std::filesystem::path& media) const;

 private:
  AudioFeatureSpec spec_;
  std::unique_ptr<DeepSpeech> deepspeech_;
};

}  // namespace dinet
