// What the FFmpeg-based readers and writers share: owning pointers for FFmpeg's C objects,
// error messages in our "path: problem" form, and opening an input and its decoder.
// Internal to src/io: the public headers never mention FFmpeg.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <filesystem>
#include <memory>
#include <string>

namespace dinet::ffmpeg {

// FFmpeg's own log lines would interleave with ours and repeat what our errors say;
// called by every entry point, it silences them once per process.
void quiet_logging();

std::string error_string(int code);
// Throws dinet::Error("<path>: <what>: <FFmpeg's message>").
[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int code);

struct InputDeleter {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecDeleter {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameDeleter {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};
struct SwrDeleter {
  void operator()(SwrContext* p) const { swr_free(&p); }
};
using InputPtr = std::unique_ptr<AVFormatContext, InputDeleter>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;
using SwrPtr = std::unique_ptr<SwrContext, SwrDeleter>;

// Allocation failures throw std::bad_alloc, like any other allocation.
FramePtr make_frame();
PacketPtr make_packet();

// The best stream of `type` in an opened input, attached pictures (cover art) excluded;
// -1 when there is none.
int find_stream(AVFormatContext* input, AVMediaType type);

// Where t = 0 is for a file's frames and its audio alike: the earlier start of its video and
// audio streams, so the two stay in sync whichever starts first. In AV_TIME_BASE units;
// AV_NOPTS_VALUE when neither stream declares a start.
int64_t sync_origin(AVFormatContext* input);

// Demuxes and decodes one stream of a file, frame by frame, decoding on every core.
// A missing file, an unknown format, unreadable headers or no stream of the type throw
// dinet::Error naming the file. Undecodable packets are skipped, as players do, unless
// nothing decodes any more.
class StreamDecoder {
 public:
  StreamDecoder(const std::filesystem::path& path, AVMediaType type);

  const std::filesystem::path& path() const { return path_; }
  AVFormatContext* input() const { return input_.get(); }
  AVStream* stream() const { return stream_; }
  AVCodecContext* codec() const { return codec_.get(); }
  // The next decoded frame; false at the end of the stream.
  bool next(AVFrame* frame);

 private:
  std::filesystem::path path_;
  InputPtr input_;
  AVStream* stream_ = nullptr;
  CodecPtr codec_;
  PacketPtr packet_ = make_packet();
  bool flushing_ = false;
};

}  // namespace dinet::ffmpeg
