// Video and audio through the FFmpeg libraries (no `ffmpeg` program needed at run time).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace dinet {

struct VideoInfo {
  int width = 0, height = 0;    // after rotation
  double source_fps = 0;        // the container's average frame rate
  double duration_s = 0;
  int rotation_degrees = 0;     // from the display matrix / rotate tag; already applied
  bool has_audio = false;
  int64_t frame_count = 0;      // frames at the output rate, estimated from the duration
};

// Decodes a video's frames resampled by timestamp to a constant output rate (default 25 fps,
// variable frame rates included), rotation applied, as 8-bit BGR. Memory does not grow with
// the length of the video. Time 0 is where the earlier of the video and its audio starts,
// so frame k stays in sync with load_audio() of the same file even when the picture starts
// late (the first picture fills the gap). Throws dinet::Error naming the file on any failure.
class VideoReader {
 public:
  explicit VideoReader(const std::filesystem::path& path, double fps = 25.0);
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const;
  // The next frame at the output rate (CV_8UC3, BGR); false at the end of the video.
  bool read(cv::Mat& bgr);
  int64_t frames_read() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Mono audio as floats in [-1, 1].
struct Audio {
  int sample_rate = 16000;
  std::vector<float> samples;
  double duration_s() const { return sample_rate ? double(samples.size()) / sample_rate : 0.0; }
};

// How several channels become one.
enum class AudioChannels {
  mix,    // the average of all channels
  first,  // channel 0 only, as the published DeepSpeech front end reads its wav files
};

// Any audio file (wav, mp3, m4a, flac, ...) or the audio stream of a video, made mono and
// resampled to `sample_rate` (soxr, very high quality). When the rate already matches, the
// samples are converted and nothing else: a 16-bit wav gives exactly sample / 32768.
// A video's audio that starts after its picture is preceded by silence (see VideoReader).
// Throws dinet::Error when there is no audio stream.
Audio load_audio(const std::filesystem::path& path, int sample_rate = 16000,
                 AudioChannels channels = AudioChannels::mix);
// The same sound at another sample rate (a copy when the rate already matches).
Audio resample(const Audio& audio, int sample_rate);
// A 16-bit PCM mono .wav, written atomically.
void write_wav(const std::filesystem::path& path, const Audio& audio);

struct VideoWriterOptions {
  double fps = 25.0;
  int crf = 18;                    // H.264 constant rate factor: lower is better quality
  std::string preset = "veryfast";  // x264 preset: ultrafast ... veryslow
  bool faststart = true;           // index at the front of the file, so playback starts at once
  int rotation_degrees = 0;        // 0, 90, 180 or 270 clockwise, stored as display metadata
  // Container metadata "comment", e.g. dub_provenance(): a dubbed video says so.
  std::string comment;
};

// H.264 (yuv420p) .mp4 with optional AAC audio, written under a temporary name and renamed by
// finish(). Destroyed without finish(), it leaves nothing behind. The audio is written whole,
// however long the video turns out to be (an empty Audio writes no audio stream). yuv420p needs even sizes, so an odd width or height
// is padded by one pixel that repeats the last column or row. Throws dinet::Error naming the
// file on any failure.
class VideoWriter {
 public:
  VideoWriter(const std::filesystem::path& path, int width, int height,
              const VideoWriterOptions& options = {}, const Audio* audio = nullptr);
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  void write(const cv::Mat& bgr);  // CV_8UC3, width x height
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a media file holds, read from its header without decoding (never trust a file's name or
// a declared type). Throws dinet::Error naming the file when FFmpeg cannot read it as media.
struct MediaStreams {
  bool video = false;  // a picture stream (cover art does not count)
  bool audio = false;
  double duration_s = 0;
  std::string comment;  // the container's "comment" metadata (dub_provenance() in our dubs)
};
MediaStreams probe_media(const std::filesystem::path& path);

// The metadata every dubbed video carries, so that it can be told from a recording:
// "lip-synced by dinet <version> (the mouth region is generated)".
std::string dub_provenance();

// The SHA-256 of a file's bytes as 64 hex digits (what `sha256sum` prints), e.g. to name the
// video a fine-tuned model came from. Throws dinet::Error naming the file.
std::string file_sha256(const std::filesystem::path& path);

}  // namespace dinet
