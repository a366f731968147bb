#include "train/samples.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <opencv2/core.hpp>

#include <algorithm>
#include <numeric>

#include "dinet/error.h"

namespace dinet::train {
namespace {

int uniform(std::mt19937_64& rng, int lo, int hi) {  // [lo, hi]
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

}  // namespace

void put_image(const cv::Mat& rgb, float* hwc, int channels, int channel) {
  const int h = rgb.rows, w = rgb.cols;
  for (int y = 0; y < h; ++y) {
    const uint8_t* src = rgb.ptr<uint8_t>(y);
    float* dst = hwc + (static_cast<int64_t>(y) * w) * channels + channel;
    for (int x = 0; x < w; ++x, src += 3, dst += channels) {
      dst[0] = src[0] * (1.0f / 255.0f);
      dst[1] = src[1] * (1.0f / 255.0f);
      dst[2] = src[2] * (1.0f / 255.0f);
    }
  }
}

at::Tensor nhwc_batch(int64_t b, int64_t h, int64_t w, int64_t c) {
  return at::empty({b, h, w, c}, at::kFloat);
}
at::Tensor as_nchw(const at::Tensor& nhwc) { return nhwc.permute({0, 3, 1, 2}); }

void put_audio(const at::Tensor& window, float* dst) {
  const int64_t rows = window.size(0), channels = window.size(1);
  const at::Tensor w = window.contiguous();
  const float* src = w.data_ptr<float>();
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t c = 0; c < channels; ++c) dst[c * rows + t] = src[t * channels + c];
}

std::vector<int32_t> distinct_indices(int32_t n, int32_t k, std::mt19937_64& rng) {
  std::vector<int32_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  for (int32_t i = 0; i < k; ++i) std::swap(all[i], all[uniform(rng, i, n - 1)]);
  all.resize(k);
  return all;
}

std::mt19937_64 sample_rng(uint64_t seed, int64_t epoch, int64_t index, uint64_t stream) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(epoch), static_cast<uint32_t>(index),
                    static_cast<uint32_t>(index >> 32), static_cast<uint32_t>(stream)};
  return std::mt19937_64(seq);
}

std::vector<int32_t> epoch_plan(size_t videos, int64_t augment_num, uint64_t seed, int64_t epoch) {
  std::vector<int32_t> plan;
  plan.reserve(videos * augment_num);
  for (int64_t a = 0; a < augment_num; ++a)
    for (size_t v = 0; v < videos; ++v) plan.push_back(static_cast<int32_t>(v));
  auto rng = sample_rng(seed, epoch, -1, 0x504c414e);
  std::shuffle(plan.begin(), plan.end(), rng);
  return plan;
}

FrameBatch random_frame_batch(const FaceSize& f, int64_t b) {
  FrameBatch batch{at::rand({b, 3, f.height, f.width}), {}, at::rand({b, 15, f.height, f.width}),
                   at::randn({b, 29, 5})};
  batch.masked = batch.target.clone();
  batch.masked.narrow(2, f.r, f.mouth).narrow(3, f.q, f.mouth).zero_();
  return batch;
}

FrameBatch make_frame_batch(const TrainingSet& set, const FaceSize& face,
                            std::span<const int32_t> videos, uint64_t seed, int64_t epoch,
                            int64_t first_index, bool hflip) {
  const int64_t b = static_cast<int64_t>(videos.size()), h = face.height, w = face.width;
  const int64_t channels = set.audio.channels;
  at::Tensor target = nhwc_batch(b, h, w, 3), masked = nhwc_batch(b, h, w, 3);
  at::Tensor refs = nhwc_batch(b, h, w, 15);
  at::Tensor audio = at::empty({b, channels, 5}, at::kFloat);
  for (int64_t i = 0; i < b; ++i) {
    auto rng = sample_rng(seed, epoch, first_index + i);
    const TrainingVideo& video = set.videos.at(videos[i]);
    const int32_t clips = static_cast<int32_t>(video.clips.size());
    if (clips < 6)
      throw Error(video.name, "has " + std::to_string(clips) + " clips; frame training needs 6");
    const std::vector<int32_t> anchor = distinct_indices(clips, 6, rng);
    const TrainingClip& source_clip = video.clips[anchor[0]];
    const int t = uniform(rng, 2, 6);
    int ref_frame[5];
    for (int k = 0; k < 5; ++k) ref_frame[k] = uniform(rng, 0, kClipLength - 1);
    const bool flip = hflip && uniform(rng, 0, 1) == 1;
    auto load = [&](const std::filesystem::path& file) {
      cv::Mat rgb = load_face(file, face.size());
      if (flip) cv::flip(rgb, rgb, 1);
      return rgb;
    };

    cv::Mat source = load(source_clip.frames[t]);
    put_image(source, target[i].data_ptr<float>(), 3, 0);
    mask_mouth(source, face.mouth);
    put_image(source, masked[i].data_ptr<float>(), 3, 0);
    for (int k = 0; k < 5; ++k)
      put_image(load(video.clips[anchor[k + 1]].frames[ref_frame[k]]), refs[i].data_ptr<float>(), 15, 3 * k);
    put_audio(video.features.narrow(0, source_clip.first_row + t - 2, 5), audio[i].data_ptr<float>());
  }
  return {as_nchw(target), as_nchw(masked), as_nchw(refs), audio};
}

SyncPair draw_negative_pair(const TrainingSet& set, int32_t video, int32_t clip, bool shifted,
                            std::mt19937_64& rng) {
  const TrainingVideo& v = set.videos.at(video);
  const int64_t start = v.clips.at(clip).first_frame;
  if (shifted) {
    std::vector<int64_t> starts;
    for (int d = kMinShift; d <= kMaxShift; ++d)
      for (const int64_t s : {start - d, start + d})
        if (v.feature_window(s, kClipLength)) starts.push_back(s);
    if (!starts.empty())
      return {video, clip, video, starts[uniform(rng, 0, static_cast<int>(starts.size()) - 1)], false};
  }
  const int32_t videos = static_cast<int32_t>(set.videos.size());
  if (videos > 1) {
    int32_t other = uniform(rng, 0, videos - 2);
    if (other >= video) ++other;
    const TrainingVideo& o = set.videos[other];
    return {video, clip, other, o.clips[uniform(rng, 0, static_cast<int>(o.clips.size()) - 1)].first_frame, false};
  }
  // One video only: a clip far enough away to be unrelated.
  std::vector<int64_t> far;
  for (const TrainingClip& c : v.clips)
    if (std::abs(c.first_frame - start) > kMaxShift) far.push_back(c.first_frame);
  if (far.empty()) throw Error(v.name, "too short to draw audio that is out of sync");
  return {video, clip, video, far[uniform(rng, 0, static_cast<int>(far.size()) - 1)], false};
}

SyncPair draw_sync_pair(const TrainingSet& set, int32_t video, std::mt19937_64& rng) {
  const TrainingVideo& v = set.videos.at(video);
  const int32_t clip = uniform(rng, 0, static_cast<int>(v.clips.size()) - 1);
  const int kind = uniform(rng, 0, 3);
  if (kind < 2) return {video, clip, video, v.clips[clip].first_frame, true};
  return draw_negative_pair(set, video, clip, kind == 2, rng);
}

SyncPair draw_matched_sync_pair(const TrainingSet& set, int32_t video, bool in_sync, std::mt19937_64& rng) {
  const TrainingVideo& v = set.videos.at(video);
  const int32_t clip = uniform(rng, 0, static_cast<int>(v.clips.size()) - 1);
  const bool shifted = uniform(rng, 0, 1) == 0;
  if (in_sync) return {video, clip, video, v.clips[clip].first_frame, true};
  return draw_negative_pair(set, video, clip, shifted, rng);
}

SyncBatch make_sync_batch(const TrainingSet& set, const FaceSize& face, std::span<const SyncPair> pairs) {
  const int64_t b = static_cast<int64_t>(pairs.size()), m = face.mouth;
  const int64_t channels = set.audio.channels;
  at::Tensor mouths = nhwc_batch(b, m, m, 15);
  at::Tensor audio = at::empty({b, channels, kClipLength}, at::kFloat);
  at::Tensor label = at::empty({b}, at::kFloat);
  for (int64_t i = 0; i < b; ++i) {
    const SyncPair& pair = pairs[i];
    const TrainingClip& clip = set.videos.at(pair.video).clips.at(pair.clip);
    // The five centre frames, as clip training feeds SyncNet the generated frames 2..6.
    for (int k = 0; k < 5; ++k) {
      const cv::Mat rgb = load_face(clip.frames[k + 2], face.size());
      put_image(rgb(face.mouth_rect()), mouths[i].data_ptr<float>(), 15, 3 * k);
    }
    const TrainingVideo& source = set.videos.at(pair.audio_video);
    const auto window = source.feature_window(pair.audio_first_frame, kClipLength);
    if (!window)
      throw Error(source.name, "no 9 feature rows from frame " + std::to_string(pair.audio_first_frame));
    put_audio(*window, audio[i].data_ptr<float>());
    label.data_ptr<float>()[i] = pair.in_sync ? 1.0f : 0.0f;
  }
  return {as_nchw(mouths), audio, label, {}};
}

}  // namespace dinet::train
