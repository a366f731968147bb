// A live session: audio in, one dubbed frame per 40 ms of it out.
//
// The session's audio is a timeline of 640-sample chunks; chunk k plays with frame k, always.
// Input waits in a queue until a chunk takes it: as soon as 640 samples are there (plus
// `jitter_ms` at the start of speech), or at the chunk's deadline, when it takes what there is
// and silence for the rest. In real time chunk k's deadline is the session start + (k+1) x 40 ms,
// so without input the timeline still moves at 25 chunks a second (silence: the avatar idles
// with its mouth closed).
//
// Two threads: the worker computes the mel rows of finished chunks and generates frames in
// batches (frame k needs rows k-2 .. k+2, i.e. chunks up to k+3); the pacer (real time only)
// emits frame k at start + (k + delay) x 40 ms, holding the last picture when frame k is not
// ready, so the audio never waits for the video. When generating takes most of the frame time
// the worker generates only every second frame (mode "half") and holds the other.
#include <opencv2/imgproc.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "audio/mel_stream.h"
#include "dinet/error.h"
#include "dinet/live.h"
#include "dinet/runtime.h"
#include "infer/references.h"
#include "live/live_model.h"

namespace dinet {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kChunk = audio::MelStream::kSamplesPerRow;  // 640 samples, 40 ms
constexpr auto kFrameTime = std::chrono::milliseconds(40);
// Frame k's generator window reaches chunk k + kLookaheadChunks.
constexpr int64_t kLookaheadChunks = 3;
// How many chunks of a queued clip may be taken beyond what the next frames need: few, so
// interrupt() silences queued speech within about the session's delay.
constexpr int64_t kMaxAhead = 4;
// A stream whose last push is older than this has ended: a short last chunk is not an underrun.
constexpr auto kStreamGap = std::chrono::milliseconds(200);
constexpr size_t kLatencyWindow = 250;

struct Segment {
  std::vector<float> samples;
  size_t used = 0;
  Clock::time_point arrival;
  bool stream = false;  // push_audio (a live stream), not a queued clip
};

struct Chunk {
  std::vector<float> samples;  // 640
  bool speech = false;
  bool has_input = false;
  Clock::time_point arrival;  // of its earliest input sample
  // Counts in the latency: stream audio, and the first chunk of a queued clip (a clip's later
  // chunks wait behind its own earlier ones by design, which is not delay).
  bool measured = false;
};

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * (values.size() - 1) + 0.5))];
}

std::vector<int16_t> to_pcm(const std::vector<float>& samples) {
  std::vector<int16_t> pcm(samples.size());
  for (size_t i = 0; i < samples.size(); ++i)
    pcm[i] = static_cast<int16_t>(std::lround(std::clamp(samples[i], -1.0f, 32767.0f / 32768) * 32768));
  return pcm;
}

}  // namespace

struct LiveSession::Impl {
  Impl(const LiveModel& model, const Avatar& avatar, FrameCallback on_frame, const LiveSessionOptions& options)
      : avatar(avatar), on_frame(std::move(on_frame)), options(options), face(face_size(model.mouth_region_size())) {
    if (options.batch_size < 1) throw Error("live session: batch_size must be at least 1");
    if (options.threads > 0) set_threads(options.threads);
    generator = model.impl().make_generator();
    generator->set_reference(avatar.references(model.mouth_region_size()));
    delay_frames = kLookaheadChunks + 1 + options.batch_size + std::max(0, options.margin_frames);
    start = Clock::now();
    worker = std::thread([this] { run_guarded([this] { work(); }); });
    if (options.real_time) pacer = std::thread([this] { run_guarded([this] { pace(); }); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    changed.notify_all();
    if (worker.joinable()) worker.join();
    if (pacer.joinable()) pacer.join();
  }

  // ---- input (any thread) -------------------------------------------------------------
  void push(std::vector<float> samples, bool stream) {
    if (samples.empty()) return;
    {
      std::lock_guard lock(mutex);
      if (finished) throw Error("live session: audio pushed after finish()");
      queued += samples.size();
      last_push = Clock::now();
      queue.push_back({std::move(samples), 0, last_push, stream});
    }
    changed.notify_all();
  }

  // ---- the timeline (under `mutex`) ----------------------------------------------------
  Clock::time_point deadline(int64_t chunk) const { return start + (chunk + 1) * kFrameTime; }
  Clock::time_point emission(int64_t frame) const { return start + (frame + delay_frames) * kFrameTime; }

  Chunk take(size_t count) {
    Chunk chunk;
    chunk.samples.reserve(kChunk);
    while (count > 0 && !queue.empty()) {
      Segment& s = queue.front();
      if (!chunk.has_input) {
        chunk.arrival = s.arrival;
        chunk.measured = s.stream || s.used == 0;
      }
      chunk.has_input = true;
      const size_t n = std::min(count, s.samples.size() - s.used);
      chunk.samples.insert(chunk.samples.end(), s.samples.begin() + s.used, s.samples.begin() + s.used + n);
      s.used += n;
      count -= n;
      queued -= n;
      if (s.used == s.samples.size()) queue.pop_front();
    }
    chunk.speech = std::any_of(chunk.samples.begin(), chunk.samples.end(), [](float v) { return v != 0; });
    chunk.samples.resize(kChunk, 0.0f);
    return chunk;
  }

  // Ends every chunk that can end now.
  void take_chunks(Clock::time_point now) {
    for (;;) {
      const int64_t c = next_chunk;
      Chunk chunk;
      if (options.real_time) {
        if (c >= emitted + delay_frames + kMaxAhead) return;
        const size_t wanted = speaking ? kChunk : kChunk + static_cast<size_t>(options.jitter_ms * 16);
        const bool clip_queued = !queue.empty() && !queue.back().stream;
        if (queued >= wanted || (queued >= static_cast<size_t>(kChunk) && clip_queued)) {
          chunk = take(kChunk);
        } else if (now >= deadline(c)) {
          const bool short_chunk = queued > 0 && queued < static_cast<size_t>(kChunk);
          const bool stream_on = !queue.empty() && queue.back().stream && now - last_push < kStreamGap;
          if (speaking && short_chunk && stream_on) ++underruns;
          if (speaking && queued == 0 && stream_on) ++underruns;
          chunk = take(std::min<size_t>(queued, kChunk));
        } else {
          return;
        }
        speaking = chunk.has_input;
      } else {
        if (c >= emitted + kLookaheadChunks + options.batch_size + kMaxAhead) return;
        if (queued >= static_cast<size_t>(kChunk)) {
          chunk = take(kChunk);
        } else if (finished && queued > 0) {
          chunk = take(queued);
        } else if (finished && c < end_frames + kLookaheadChunks) {
          chunk = take(0);  // silence after the end, for the last frames' window
        } else {
          return;
        }
      }
      unfed.push_back(chunk.samples);
      chunks.emplace(c, std::move(chunk));
      ++next_chunk;
    }
  }

  // ---- the worker: features and generation ---------------------------------------------
  void work() {
    torch::NoGradGuard no_grad;
    std::deque<at::Tensor> rows;  // mel rows from index rows_base
    int64_t rows_base = 0, rows_total = 0, next_frame = 0;
    cv::Mat last_picture;
    for (;;) {
      std::deque<std::vector<float>> fresh;
      bool done = false;
      {
        std::unique_lock lock(mutex);
        for (;;) {
          if (stop) return;
          take_chunks(Clock::now());
          if (!unfed.empty()) break;
          if (!options.real_time && finished && next_frame >= end_frames) {
            done = true;
            break;
          }
          if (options.real_time)
            changed.wait_until(lock, deadline(next_chunk));
          else
            changed.wait(lock);
        }
        fresh.swap(unfed);
      }
      if (done) break;
      for (const auto& samples : fresh) mel.push(samples);
      const at::Tensor popped = mel.pop();
      for (int64_t r = 0; r < popped.size(0); ++r) rows.push_back(popped[r]);
      rows_total += popped.size(0);
      // Frames whose window (rows t-2 .. t+2, edge rows repeated before 0) is complete.
      for (;;) {
        int64_t ready = rows_total - 2 - next_frame;
        bool ending = false;  // not real time, finished: the last frames go in a short batch
        if (!options.real_time) {
          std::lock_guard lock(mutex);
          if (finished) {
            ready = std::min(ready, end_frames - next_frame);
            ending = true;
          }
        }
        if (ready <= 0 || (ready < options.batch_size && !ending)) break;
        const int64_t count = std::min<int64_t>(ready, options.batch_size);
        generate(next_frame, count, rows, rows_base, last_picture);
        next_frame += count;
        // Keep the rows later windows read (from next_frame - 2).
        while (rows_base < next_frame - 2 && !rows.empty()) {
          rows.pop_front();
          ++rows_base;
        }
      }
    }
  }

  void generate(int64_t first, int64_t count, const std::deque<at::Tensor>& rows, int64_t rows_base,
                cv::Mat& last_picture) {
    const auto begin = Clock::now();
    std::vector<LiveFrame> out(count);
    std::vector<at::Tensor> sources, windows;
    std::vector<int64_t> made;  // indices into `out` that go through the generator
    std::vector<bool> late(count, false);
    const cv::Rect hole = face.mouth_rect();
    for (int64_t i = 0; i < count; ++i) {
      const int64_t k = first + i;
      LiveFrame& f = out[i];
      f.index = k;
      bool skip = false;
      {
        std::lock_guard lock(mutex);
        // Emitted (held) by the pacer, or due before this batch could be ready: too late.
        const auto expected = std::chrono::duration<double, std::milli>(generate_ms * count);
        if (options.real_time && (k < emitted || emission(k) < begin + expected)) {
          late[i] = true;
          f.generated = false;
          continue;
        }
        const Chunk& chunk = chunks.at(k);
        f.audio = to_pcm(chunk.samples);
        f.speech = chunk.speech;
        // Left out at the reduced rate: a held picture.
        skip = half_rate && k % 2 == 1;
      }
      if (skip) {
        f.generated = false;
        continue;
      }
      const int64_t source = avatar.loop.frame_at(k);
      f.bgr = avatar.frame(source);
      const auto& window = avatar.windows[source];
      if (!window) continue;
      at::Tensor face_in = infer::face_tensor(crop_face(f.bgr, *window, face.size()));
      face_in.narrow(1, hole.y, hole.height).narrow(2, hole.x, hole.width).zero_();
      sources.push_back(face_in);
      std::vector<at::Tensor> window_rows;
      for (int64_t r = k - 2; r <= k + 2; ++r) window_rows.push_back(rows.at(std::max<int64_t>(r, 0) - rows_base));
      windows.push_back(torch::stack(window_rows).t());
      made.push_back(i);
    }
    if (!made.empty()) {
      const at::Tensor generated = generator->forward(torch::stack(sources), torch::stack(windows));
      const at::Tensor faces =
          generated.permute({0, 2, 3, 1}).flip({3}).mul(255).add_(0.5).clamp_(0, 255).to(at::kByte).contiguous();
      for (size_t j = 0; j < made.size(); ++j) {
        LiveFrame& f = out[made[j]];
        const int64_t source = avatar.loop.frame_at(f.index);
        const at::Tensor pixels = faces[static_cast<int64_t>(j)];
        const cv::Mat picture(static_cast<int>(pixels.size(0)), static_cast<int>(pixels.size(1)), CV_8UC3,
                              pixels.data_ptr());
        paste_face(f.bgr, picture, *avatar.windows[source], PasteMode::LowerFace, &avatar.track.frames[source]);
      }
    }
    for (int64_t i = 0; i < count; ++i) {
      if (late[i]) continue;
      LiveFrame& f = out[i];
      if (!f.generated) f.bgr = last_picture.empty() ? avatar.frame(avatar.loop.frame_at(f.index)) : last_picture;
      last_picture = f.bgr;
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
    const int64_t worked = std::max<int64_t>(1, static_cast<int64_t>(made.size()));
    {
      std::lock_guard lock(mutex);
      const double per_frame = ms / worked;
      generate_ms = generate_ms == 0 ? per_frame : 0.8 * generate_ms + 0.2 * per_frame;
      if (options.real_time) {
        const double frame_ms = 40.0;
        if (!half_rate && generate_ms > options.overload * frame_ms) half_rate = true;
        // At half rate one frame has 80 ms; back to every frame when one takes well under 40.
        else if (half_rate && generate_ms < options.recover_load * frame_ms) half_rate = false;
      }
      const auto now = Clock::now();
      for (int64_t i = 0; i < count; ++i) {
        if (late[i]) continue;
        if (out[i].generated) {
          ++generated_count;
          generated_times.push_back(now);
        } else {
          ++skipped;
        }
        // The pacer may have held it while it was being made.
        if (options.real_time && out[i].index >= emitted) ready.emplace(out[i].index, std::move(out[i]));
      }
      prune(generated_times, now);
    }
    if (!options.real_time)
      for (const LiveFrame& f : out) emit(f, Clock::now());
    if (options.real_time) changed.notify_all();
  }

  // ---- emission ----------------------------------------------------------------------------
  // Called in frame order, without `mutex` held.
  void emit(const LiveFrame& frame, Clock::time_point now) {
    on_frame(frame);
    std::lock_guard lock(mutex);
    const Chunk& chunk = chunks.at(frame.index);
    if (chunk.speech && chunk.measured) {
      latencies.push_back(std::chrono::duration<double, std::milli>(now - chunk.arrival).count());
      if (latencies.size() > kLatencyWindow) latencies.pop_front();
    }
    chunks.erase(frame.index);
    emitted = frame.index + 1;
    ++frames;
    emitted_times.push_back(now);
    prune(emitted_times, now);
    all_out.notify_all();
    changed.notify_all();
  }

  void pace() {
    for (int64_t k = 0;; ++k) {
      LiveFrame frame;
      {
        std::unique_lock lock(mutex);
        if (changed.wait_until(lock, emission(k), [this] { return stop; })) return;
        take_chunks(Clock::now());  // frame k's chunk is due by now
        auto it = ready.find(k);
        if (it != ready.end()) {
          frame = std::move(it->second);
          ready.erase(it);
        } else {
          const Chunk& chunk = chunks.at(k);
          frame.index = k;
          frame.audio = to_pcm(chunk.samples);
          frame.speech = chunk.speech;
          frame.generated = false;
          frame.bgr = last_emitted.empty() ? avatar.frame(avatar.loop.frame_at(k)) : last_emitted;
          ++dropped;
        }
        last_emitted = frame.bgr;
      }
      emit(frame, Clock::now());
    }
  }

  // The statistics' rates count the last 2 s.
  static void prune(std::deque<Clock::time_point>& times, Clock::time_point now) {
    while (!times.empty() && now - times.front() > std::chrono::seconds(2)) times.pop_front();
  }

  template <typename F>
  void run_guarded(F&& body) {
    try {
      body();
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!error) error = std::current_exception();
      stop = true;
      changed.notify_all();
      all_out.notify_all();
    }
  }

  LiveStats stats() const {
    std::lock_guard lock(mutex);
    LiveStats s;
    const auto now = Clock::now();
    auto rate = [&](std::deque<Clock::time_point>& times) {
      prune(times, now);
      const double span = std::min(2.0, std::chrono::duration<double>(now - start).count());
      return span > 0 ? times.size() / span : 0.0;
    };
    s.output_fps = rate(emitted_times);
    s.generated_fps = rate(generated_times);
    std::vector<double> values(latencies.begin(), latencies.end());
    s.latency_p50_ms = percentile(values, 0.5);
    s.latency_p95_ms = percentile(values, 0.95);
    s.latency_samples = static_cast<int64_t>(values.size());
    s.frames = frames;
    s.generated = generated_count;
    s.dropped = dropped;
    s.skipped = skipped;
    s.underruns = underruns;
    s.lookahead_ms = audio::MelStream::kWindowLookahead / 16.0;
    s.delay_ms = options.real_time ? (delay_frames - 1) * 40.0 : 0;
    s.generate_ms_per_frame = generate_ms;
    s.mode = half_rate ? "half" : "full";
    return s;
  }

  const Avatar& avatar;
  FrameCallback on_frame;
  LiveSessionOptions options;
  FaceSize face;
  std::unique_ptr<infer::Generator> generator;
  audio::MelStream mel;  // the worker's
  int64_t delay_frames = 0;
  Clock::time_point start;

  mutable std::mutex mutex;
  std::condition_variable changed, all_out;
  bool stop = false, finished = false;
  std::exception_ptr error;
  // Input.
  std::deque<Segment> queue;
  size_t queued = 0;
  Clock::time_point last_push;
  // The timeline.
  int64_t next_chunk = 0;
  int64_t end_frames = 0;  // not real time: frames to emit once finished
  bool speaking = false;
  std::map<int64_t, Chunk> chunks;  // taken, not yet emitted
  std::deque<std::vector<float>> unfed;  // taken chunks' samples the worker has not read yet
  std::map<int64_t, LiveFrame> ready;
  int64_t emitted = 0;
  cv::Mat last_emitted;
  bool half_rate = false;
  // Statistics.
  int64_t frames = 0, generated_count = 0, dropped = 0, skipped = 0, underruns = 0;
  double generate_ms = 0;
  std::deque<double> latencies;
  mutable std::deque<Clock::time_point> emitted_times, generated_times;

  std::thread worker, pacer;
};

LiveSession::LiveSession(const LiveModel& model, const Avatar& avatar, FrameCallback on_frame,
                         const LiveSessionOptions& options)
    : impl_(std::make_unique<Impl>(model, avatar, std::move(on_frame), options)) {}

LiveSession::~LiveSession() = default;

void LiveSession::push_audio(std::span<const int16_t> samples) {
  std::vector<float> f(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) f[i] = samples[i] / 32768.0f;
  impl_->push(std::move(f), true);
}

void LiveSession::push_audio(std::span<const float> samples) {
  impl_->push(std::vector<float>(samples.begin(), samples.end()), true);
}

void LiveSession::push_clip(const Audio& clip) {
  impl_->push(clip.sample_rate == 16000 ? clip.samples : resample(clip, 16000).samples, false);
}

void LiveSession::say(const std::string& text, const std::string& voice) {
  push_clip(synthesize_speech(text, voice));
}

void LiveSession::interrupt() {
  std::lock_guard lock(impl_->mutex);
  impl_->queue.clear();
  impl_->queued = 0;
  impl_->speaking = false;
}

void LiveSession::finish() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->finished) return;
    impl_->finished = true;
    // Every chunk that has input, the last one maybe short.
    impl_->end_frames = impl_->next_chunk + static_cast<int64_t>((impl_->queued + kChunk - 1) / kChunk);
  }
  impl_->changed.notify_all();
}

void LiveSession::wait() {
  std::unique_lock lock(impl_->mutex);
  impl_->all_out.wait(lock, [this] { return impl_->error || (impl_->finished && impl_->emitted >= impl_->end_frames); });
  if (impl_->error) std::rethrow_exception(impl_->error);
}

LiveStats LiveSession::stats() const { return impl_->stats(); }

}  // namespace dinet
