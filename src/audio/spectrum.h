// Short-time power spectra and triangular filter banks, shared by the DeepSpeech MFCC and the
// built-in log-mel. Internal to the audio area.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <vector>

namespace dinet::audio {

// `rows` frames of `length` samples, frame r starting at sample `first + r * hop` (it may be
// negative): samples outside [0, n) are zero, each frame is multiplied by `window` when it
// is not empty and zero-padded at its end to `fft_size`. Returns |rfft|^2, (rows,
// fft_size / 2 + 1), in the signal's type (float or double).
template <typename T>
at::Tensor power_spectrum(const T* signal, int64_t n, int64_t first, int64_t hop, int64_t rows,
                          int64_t length, int64_t fft_size, const std::vector<T>& window);

// One triangular filter: weights for the FFT bins first_bin, first_bin + 1, ...
struct Filter {
  int64_t first_bin = 0;
  std::vector<double> weights;
};

// (rows, bins) -> (rows, filters): each row's power summed under each filter. The filters
// are sparse (a few bins each), so this is far cheaper than a dense matrix product.
at::Tensor apply_filters(const at::Tensor& power, const std::vector<Filter>& filters);

}  // namespace dinet::audio
