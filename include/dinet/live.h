// Live dubbing: an avatar (a short video of a person, prepared once) speaks audio as it
// arrives (a microphone stream, WAV or TTS chunks, text spoken by espeak-ng), one video frame
// per 40 ms of audio, never drifting from it. No network here: `dinet serve` carries the frames.
#pragma once

#include <opencv2/core.hpp>

#include <ATen/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dinet/crop.h"
#include "dinet/infer.h"
#include "dinet/landmarks.h"
#include "dinet/media.h"

namespace dinet {

// ---- avatars ------------------------------------------------------------------------------

struct AvatarOptions {
  double max_seconds = 20;  // of the video used
  // The longer side of the stored frames; larger videos are scaled down (a live stream on a
  // few cores cannot encode more). 0 keeps the size.
  int max_side = 640;
  std::filesystem::path landmark_model;  // empty: the default dlib model
  // An OpenFace CSV of the video's landmarks (25 fps), used instead of detecting them.
  std::filesystem::path landmark_csv;
  bool show_progress = false;
};

// How the avatar's frames repeat while a session runs.
struct AvatarLoop {
  // "ping_pong": frames 0..n-1 forward then backward. "cut": frames begin..end-1 forward,
  // again and again, where frame end looks like frame begin (landmarks and pixels), so the
  // jump back is not seen.
  std::string kind = "ping_pong";
  int64_t begin = 0, end = 0;
  // The source frame shown at output frame t.
  int64_t frame_at(int64_t t) const;
};

// A prepared avatar, as stored in its directory:
//   avatar.json    metadata: source file name, frames, width, height, fps, created (UTC),
//                  the loop (kind, begin, end, and the similarity of the cut's two frames)
//   frames/NNNNNN.jpg   the frames at 25 fps (JPEG quality 95), scaled to max_side
//   landmarks.csv  the 68 landmarks of each frame (OpenFace CSV); the crop windows follow
//                  from them (crop_windows with the default options).
struct Avatar {
  std::filesystem::path dir;
  std::string source_name;
  int width = 0, height = 0;
  AvatarLoop loop;
  LandmarkTrack track;
  std::vector<std::optional<CropWindow>> windows;  // per frame
  std::vector<std::vector<uint8_t>> jpeg;         // per frame, decoded on use
  int64_t frames() const { return static_cast<int64_t>(jpeg.size()); }
  cv::Mat frame(int64_t index) const;  // CV_8UC3 BGR
  // The generator's five reference faces for a mouth size: frames chosen over the range of
  // mouth openings (infer::choose_reference_frames, seed 0), (1, 15, H, W) RGB in [0, 1].
  at::Tensor references(int mouth_region_size) const;
};

// Prepares `video` once into `dir` (which must not exist; written to a temporary sibling and
// renamed, so `dir` is complete or absent). Throws dinet::Error naming the video when it has
// no usable face.
void prepare_avatar(const std::filesystem::path& video, const std::filesystem::path& dir,
                    const AvatarOptions& options = {});
// Throws dinet::Error naming the directory when it is not a complete avatar.
Avatar load_avatar(const std::filesystem::path& dir);

// ---- text to speech -------------------------------------------------------------------------

// `text` (UTF-8) spoken by espeak-ng with `voice` (e.g. "en", "de"): 16 kHz mono. Thread-safe
// (espeak-ng is process-global; calls take turns). Throws dinet::Error when espeak-ng or its
// data cannot be loaded, or the voice is unknown.
Audio synthesize_speech(const std::string& text, const std::string& voice = "en");

// ---- sessions -------------------------------------------------------------------------------

struct LiveModelOptions {
  std::filesystem::path model_path;  // a generator trained on the built-in mel feature
  std::string device = "cpu";
  Precision precision = Precision::fp32;
  int mouth_region_size = 0;  // 0: the checkpoint's
};

// A loaded generator checkpoint shared by sessions (each makes its own Generator from it).
class LiveModel {
 public:
  // Throws dinet::Error naming the checkpoint when it was not trained on the mel feature:
  // "live sessions need a mel model".
  explicit LiveModel(const LiveModelOptions& options);
  ~LiveModel();
  int mouth_region_size() const;
  const LiveModelOptions& options() const;
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct LiveFrame {
  int64_t index = 0;         // frame k plays audio samples [640 k, 640 k + 640) of the session
  cv::Mat bgr;               // the avatar frame with the dubbed lower face pasted in
  std::vector<int16_t> audio;  // those 640 samples of 16 kHz audio, zeros when none
  bool speech = false;       // the samples came from input and are not digital silence
  bool generated = true;     // false: a held picture (the generator was late or skipped it)
};

struct LiveSessionOptions {
  // true: frames leave at 25 per second of wall time. false: as fast as the input allows,
  // and only frames whose audio has arrived (push ... then finish()), for tests and benches.
  bool real_time = true;
  int batch_size = 2;  // frames per generator call
  // Frames between a frame's audio deadline and its emission, beyond the feature look-ahead;
  // real time only. More: fewer held frames on a busy machine, more latency.
  int margin_frames = 2;
  // Queued audio at the start of speech before it starts playing, to ride out arrival jitter.
  double jitter_ms = 20;
  // Generate every 2nd frame (holding the other) when generating one frame takes longer than
  // this fraction of 40 ms; back to every frame under `recover_load`.
  double overload = 0.9, recover_load = 0.6;
  int threads = 0;  // LibTorch threads for this session's generator; 0: leave as set
};

struct LiveStats {
  double output_fps = 0;        // frames emitted per second of wall time, over the last 2 s
  double generated_fps = 0;     // frames generated per second, over the last 2 s
  // Audio arrival -> its frame's emission: every frame of stream audio (push_audio), the first
  // frame of a queued clip (push_clip, say: its later frames wait behind it by design).
  double latency_p50_ms = 0, latency_p95_ms = 0;
  int64_t latency_samples = 0;  // frames the latency figures cover (the last 250 with speech)
  int64_t frames = 0, generated = 0;
  int64_t dropped = 0;          // frames emitted as a held picture because generation was late
  int64_t skipped = 0;          // frames not generated on purpose (reduced rate), held
  int64_t underruns = 0;        // frames during speech whose audio had not fully arrived
  double lookahead_ms = 0;      // the features' own look-ahead (frame start to last sample needed)
  double delay_ms = 0;          // the fixed schedule: a frame's audio deadline to its emission
  double generate_ms_per_frame = 0;  // recent average
  std::string mode;             // "full" or "half" (every 2nd frame generated)
};

// One avatar speaking. All inputs are thread-safe; frames go to `on_frame` in order, from the
// session's own thread.
class LiveSession {
 public:
  using FrameCallback = std::function<void(const LiveFrame&)>;
  LiveSession(const LiveModel& model, const Avatar& avatar, FrameCallback on_frame,
              const LiveSessionOptions& options = {});
  ~LiveSession();  // stops; frames not yet emitted are dropped
  LiveSession(const LiveSession&) = delete;
  LiveSession& operator=(const LiveSession&) = delete;

  // A real-time stream (e.g. a microphone): 16 kHz mono.
  void push_audio(std::span<const int16_t> samples);
  void push_audio(std::span<const float> samples);
  // Queued speech: a clip (any rate, resampled) or text spoken by espeak-ng.
  void push_clip(const Audio& clip);
  void say(const std::string& text, const std::string& voice = "en");
  // Drops the queued samples; those already on the timeline (at most the session's delay and
  // 4 frames, a few hundred ms) still play.
  void interrupt();
  // No more input: the frames of what was pushed are emitted, then the session ends.
  void finish();
  // Waits until finish()'s frames are out (or the session failed: rethrows its error).
  void wait();

  LiveStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dinet
