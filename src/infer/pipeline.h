// One video through the generator as three overlapping stages on bounded queues:
//   decode + crop (a thread)  ->  network (the caller's thread)  ->  paste + encode (a thread).
// Frames move in batches; at most a few batches exist at once, so memory does not depend on
// the length of the video.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "dinet/crop.h"
#include "dinet/media.h"
#include "infer/generator.h"
#include "infer/source_frames.h"

namespace dinet {
class Progress;
}

namespace dinet::infer {

struct PipelineInput {
  SourceFrames* frames = nullptr;  // yields the output frames' sources in order
  int64_t source_frames = 0;
  const std::vector<std::optional<CropWindow>>* windows = nullptr;  // per source frame
  const LandmarkTrack* landmarks = nullptr;  // per source frame; needed by PasteMode::LowerFace
  at::Tensor features;  // (output frames, channels): one row per output frame
  FaceSize face;
  int batch_size = 4;
  PasteMode paste = PasteMode::LowerFace;
};

struct PipelineStats {
  int64_t frames = 0;
  int64_t frames_without_face = 0;
};

// The features padded by 2 repeated edge rows at each end, as published: output frame t
// sees padded rows t .. t+4, the 5-frame window centred on its own row.
at::Tensor pad_features(const at::Tensor& features);

// Writes features.size(0) frames to `writer`. Rethrows the first failure of any stage.
PipelineStats run_pipeline(const PipelineInput& input, Generator& generator, VideoWriter& writer,
                           Progress* progress);

}  // namespace dinet::infer
