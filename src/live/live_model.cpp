// A generator checkpoint loaded once for any number of live sessions.
#include "live/live_model.h"

#include "dinet/error.h"

namespace dinet {

LiveModel::LiveModel(const LiveModelOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->model = infer::load_model(options.model_path, options.mouth_region_size);
  if (impl_->model.feature.name != "mel")
    throw Error(options.model_path.string(),
                "live sessions need a mel model; this one takes " + to_string(impl_->model.feature) +
                    " features, which are not computed as audio arrives");
  impl_->options.mouth_region_size = impl_->model.mouth_region_size;
  // Fails early, naming the precision, where it would not run on this device.
  infer::compute_dtype(options.device, options.precision);
}

LiveModel::~LiveModel() = default;

int LiveModel::mouth_region_size() const { return impl_->model.mouth_region_size; }
const LiveModelOptions& LiveModel::options() const { return impl_->options; }

std::unique_ptr<infer::Generator> LiveModel::Impl::make_generator() const {
  // Building a generator sets the shared network's mode and device: one at a time.
  std::lock_guard lock(mutex);
  return std::make_unique<infer::Generator>(model.net, options.device, options.precision);
}

}  // namespace dinet
