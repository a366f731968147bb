#include "train/clip_samples.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>

#include <random>

#include "dinet/error.h"
#include "train/samples.h"

namespace dinet::train {

ClipBatch make_clip_batch(const TrainingSet& set, const FaceSize& face, std::span<const int32_t> videos,
                          uint64_t seed, int64_t epoch, int64_t first_index) {
  const int64_t b = static_cast<int64_t>(videos.size()), h = face.height, w = face.width;
  const int64_t channels = set.audio.channels;
  at::Tensor target = nhwc_batch(kClipFrames * b, h, w, 3), masked = nhwc_batch(kClipFrames * b, h, w, 3);
  at::Tensor refs = nhwc_batch(kClipFrames * b, h, w, 15);
  at::Tensor audio = at::empty({kClipFrames * b, channels, 5}, at::kFloat);
  at::Tensor clip_audio = at::empty({b, channels, kClipLength}, at::kFloat);
  for (int64_t i = 0; i < b; ++i) {
    auto rng = sample_rng(seed, epoch, first_index + i);
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const TrainingVideo& video = set.videos.at(videos[i]);
    const int32_t clips = static_cast<int32_t>(video.clips.size());
    if (clips < static_cast<int32_t>(kClipMinClips))
      throw Error(video.name, "has " + std::to_string(clips) + " clips; clip training needs " +
                                  std::to_string(kClipMinClips));
    const TrainingClip& source = video.clips[uniform(0, clips - 1)];
    for (int k = 0; k < kClipFrames; ++k) {
      const int64_t row = k * b + i;
      cv::Mat frame = load_face(source.frames[2 + k], face.size());
      put_image(frame, target[row].data_ptr<float>(), 3, 0);
      mask_mouth(frame, face.mouth);
      put_image(frame, masked[row].data_ptr<float>(), 3, 0);
      put_audio(video.features.narrow(0, source.first_row + k, 5), audio[row].data_ptr<float>());
      const std::vector<int32_t> anchors = distinct_indices(clips, 5, rng);
      for (int r = 0; r < 5; ++r) {
        const int index = uniform(0, kClipLength - 1);
        put_image(load_face(video.clips[anchors[r]].frames[index], face.size()), refs[row].data_ptr<float>(), 15,
                  3 * r);
      }
    }
    put_audio(video.features.narrow(0, source.first_row, kClipLength), clip_audio[i].data_ptr<float>());
  }
  return {as_nchw(target), as_nchw(masked), as_nchw(refs), audio, clip_audio};
}

at::Tensor stack_clip_frames(const at::Tensor& frames, int64_t clips) {
  if (frames.size(0) != kClipFrames * clips)
    throw Error("stack_clip_frames: " + std::to_string(frames.size(0)) + " frames for " + std::to_string(clips) +
                " clips");
  return at::cat(frames.split(clips, 0), 1);
}

at::Tensor mouth_region(const at::Tensor& images, const FaceSize& face) {
  return images.narrow(2, face.r, face.mouth).narrow(3, face.q, face.mouth);
}

}  // namespace dinet::train
