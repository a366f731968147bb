// The DeepSpeech v0.1.0 network (reference 2.1) in LibTorch, from its TensorFlow weights.
// Internal to the audio area; the public face is dinet::DeepSpeech.
#pragma once

#include <ATen/Tensor.h>

#include <filesystem>
#include <memory>
#include <string>

#include "dinet/audio_features.h"  // DeepSpeechPrecision

namespace dinet::deepspeech {

// The weights as TensorFlow stores them: dense kernels [in, out], LSTM kernels
// [in + H, 4H] over concat(input, h) with gates i, j, f, o, biases 1-D. float32.
struct Weights {
  at::Tensor h1, b1, h2, b2, h3, b3;
  at::Tensor fw_kernel, fw_bias, bw_kernel, bw_bias;
  at::Tensor h5, b5, h6, b6;
};

// Reads the weight constants of a frozen DeepSpeech graph (`output_graph.pb`) by name and
// checks their shapes. Throws dinet::Error naming the file on any mismatch.
Weights read_graph(const std::filesystem::path& file);

// Throws dinet::Error("<source>: ...") unless the shapes fit together; every width is read
// from the weights.
void check_shapes(const Weights& w, const std::string& source);

class Network {
 public:
  // Takes the weights (checked with check_shapes) and lays them out for the CPU kernels;
  // `precision` is that of the LSTM's recurrent weights (see DeepSpeechPrecision).
  Network(const Weights& weights, const std::string& source,
          DeepSpeechPrecision precision = DeepSpeechPrecision::fp32);
  ~Network();

  // (T, n_input) float32 -> logits (ceil(T / keep_every), n_output) at steps 0, keep_every,
  // 2 keep_every, ... The recurrent layer always runs over all T steps.
  at::Tensor forward(const at::Tensor& inputs, int64_t keep_every = 1) const;

  int64_t inputs() const;
  int64_t outputs() const;
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dinet::deepspeech
