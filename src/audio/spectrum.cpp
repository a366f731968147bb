#include "audio/spectrum.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <type_traits>

namespace dinet::audio {

template <typename T>
at::Tensor power_spectrum(const T* signal, int64_t n, int64_t first, int64_t hop, int64_t rows,
                          int64_t length, int64_t fft_size, const std::vector<T>& window) {
  const auto dtype = std::is_same_v<T, double> ? at::kDouble : at::kFloat;
  at::Tensor frames = at::zeros({rows, fft_size}, at::TensorOptions().dtype(dtype));
  T* out = frames.data_ptr<T>();
  at::parallel_for(0, rows, 256, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t start = first + r * hop;
      const int64_t lo = std::max<int64_t>(0, -start);
      const int64_t hi = std::min<int64_t>(length, n - start);
      T* frame = out + r * fft_size;
      for (int64_t k = lo; k < hi; ++k)
        frame[k] = window.empty() ? signal[start + k] : signal[start + k] * window[k];
    }
  });
  // |X|^2 from the real and imaginary parts: numpy squares the magnitude, which differs
  // only in the last bit.
  const at::Tensor spectrum = at::view_as_real(at::fft_rfft(frames, fft_size, 1));
  return spectrum.square().sum(-1);
}

template at::Tensor power_spectrum<float>(const float*, int64_t, int64_t, int64_t, int64_t,
                                          int64_t, int64_t, const std::vector<float>&);
template at::Tensor power_spectrum<double>(const double*, int64_t, int64_t, int64_t, int64_t,
                                           int64_t, int64_t, const std::vector<double>&);

at::Tensor apply_filters(const at::Tensor& power, const std::vector<Filter>& filters) {
  const at::Tensor p = power.contiguous();
  const int64_t rows = p.size(0), bins = p.size(1);
  const int64_t count = static_cast<int64_t>(filters.size());
  at::Tensor out = at::zeros({rows, count}, p.options());
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "apply_filters", [&] {
    const scalar_t* in = p.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    at::parallel_for(0, rows, 256, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        for (int64_t f = 0; f < count; ++f) {
          const Filter& filter = filters[f];
          const int64_t used = std::min<int64_t>(filter.weights.size(), bins - filter.first_bin);
          double sum = 0;
          for (int64_t k = 0; k < used; ++k)
            sum += filter.weights[k] * in[r * bins + filter.first_bin + k];
          o[r * count + f] = static_cast<scalar_t>(sum);
        }
    });
  });
  return out;
}

}  // namespace dinet::audio
