// What a LiveModel holds (live area internal).
#pragma once

#include <memory>
#include <mutex>

#include "dinet/live.h"
#include "infer/generator.h"
#include "infer/model.h"

namespace dinet {

struct LiveModel::Impl {
  LiveModelOptions options;
  infer::LoadedModel model;
  mutable std::mutex mutex;
  std::unique_ptr<infer::Generator> make_generator() const;
};

}  // namespace dinet
