#include "infer/pipeline.h"

#include <torch/torch.h>

#include <exception>
#include <mutex>
#include <thread>

#include "dinet/interrupt.h"
#include "dinet/progress.h"
#include "infer/bounded_queue.h"
#include "infer/references.h"

namespace dinet::infer {
namespace {

struct Batch {
  std::vector<cv::Mat> frames;                    // whole source frames, pasted into in place
  std::vector<std::optional<CropWindow>> windows;  // per frame; none: written unchanged
  std::vector<const FaceLandmarks*> landmarks;     // per frame; null without a landmark track
  at::Tensor source, audio;                        // network inputs of the frames with a face
  at::Tensor faces;                                // network output: (k, H, W, 3) BGR uint8
};

// The first exception of any stage; the others then stop.
class FirstError {
 public:
  void set(std::exception_ptr e) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = e;
  }
  void rethrow() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
};

Batch make_batch(const PipelineInput& in, const at::Tensor& padded, int64_t begin, int64_t count) {
  Batch batch;
  std::vector<at::Tensor> sources, audio;
  const cv::Rect hole = in.face.mouth_rect();
  for (int64_t t = begin; t < begin + count; ++t) {
    batch.frames.push_back(in.frames->next());
    const int64_t source = ping_pong_index(t, in.source_frames);
    const auto& window = (*in.windows)[source];
    batch.windows.push_back(window);
    batch.landmarks.push_back(in.landmarks ? &in.landmarks->frames[source] : nullptr);
    if (!window) continue;
    at::Tensor face = face_tensor(crop_face(batch.frames.back(), *window, in.face.size()));
    face.narrow(1, hole.y, hole.height).narrow(2, hole.x, hole.width).zero_();
    sources.push_back(face);
    audio.push_back(padded.narrow(0, t, 5).t());
  }
  if (!sources.empty()) {
    batch.source = torch::stack(sources);
    batch.audio = torch::stack(audio);
  }
  return batch;
}

void paste_and_write(Batch& batch, PasteMode paste, VideoWriter& writer, PipelineStats& stats,
                     Progress* progress) {
  int64_t face = 0;
  for (size_t k = 0; k < batch.frames.size(); ++k) {
    if (batch.windows[k]) {
      const at::Tensor pixels = batch.faces[face++];
      const cv::Mat generated(static_cast<int>(pixels.size(0)), static_cast<int>(pixels.size(1)), CV_8UC3,
                              pixels.data_ptr());
      paste_face(batch.frames[k], generated, *batch.windows[k], paste, batch.landmarks[k]);
    } else {
      ++stats.frames_without_face;
    }
    writer.write(batch.frames[k]);
    ++stats.frames;
    if (progress) progress->advance();
  }
}

}  // namespace

at::Tensor pad_features(const at::Tensor& features) {
  const int64_t n = features.size(0);
  return torch::cat({features.narrow(0, 0, 1).expand({2, -1}), features,
                     features.narrow(0, n - 1, 1).expand({2, -1})});
}

PipelineStats run_pipeline(const PipelineInput& in, Generator& generator, VideoWriter& writer,
                           Progress* progress) {
  const int64_t total = in.features.size(0);
  const at::Tensor padded = pad_features(in.features.to(at::kFloat));
  // Two batches waiting at each hand-over keep every stage busy without holding more.
  BoundedQueue<Batch> to_network(2), to_writer(2);
  FirstError error;
  PipelineStats stats;

  std::thread reader([&] {
    try {
      for (int64_t begin = 0; begin < total; begin += in.batch_size) {
        throw_if_interrupted();
        if (!to_network.push(make_batch(in, padded, begin, std::min<int64_t>(in.batch_size, total - begin))))
          return;
      }
      to_network.close();
    } catch (...) {
      error.set(std::current_exception());
      to_network.abort();
      to_writer.abort();
    }
  });
  std::thread encoder([&] {
    try {
      while (auto batch = to_writer.pop()) paste_and_write(*batch, in.paste, writer, stats, progress);
    } catch (...) {
      error.set(std::current_exception());
      to_network.abort();
      to_writer.abort();
    }
  });
  try {
    while (auto batch = to_network.pop()) {
      // Ctrl-C: every stage stops at its next batch (the queues are aborted below, so none
      // waits on another), and the writer's temporary goes with the unwinding.
      throw_if_interrupted();
      if (batch->source.defined()) {
        const at::Tensor out = generator.forward(batch->source, batch->audio);
        // RGB (k, 3, H, W) in (0, 1) -> BGR (k, H, W, 3) bytes, rounded.
        batch->faces = out.permute({0, 2, 3, 1}).flip({3}).mul(255).add_(0.5).clamp_(0, 255).to(at::kByte).contiguous();
      }
      if (!to_writer.push(std::move(*batch))) break;
    }
    to_writer.close();
  } catch (...) {
    error.set(std::current_exception());
    to_network.abort();
    to_writer.abort();
  }
  reader.join();
  encoder.join();
  error.rethrow();
  return stats;
}

}  // namespace dinet::infer
