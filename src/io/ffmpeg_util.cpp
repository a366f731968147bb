#include "io/ffmpeg_util.h"

#include <algorithm>
#include <mutex>
#include <new>

#include "dinet/error.h"
#include "dinet/files.h"

namespace dinet::ffmpeg {

void quiet_logging() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_FATAL); });
}

std::string error_string(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

void fail(const std::filesystem::path& path, const std::string& what, int code) {
  throw Error(path.string(), what + ": " + error_string(code));
}

FramePtr make_frame() {
  FramePtr frame(av_frame_alloc());
  if (!frame) throw std::bad_alloc();
  return frame;
}

PacketPtr make_packet() {
  PacketPtr packet(av_packet_alloc());
  if (!packet) throw std::bad_alloc();
  return packet;
}

int find_stream(AVFormatContext* input, AVMediaType type) {
  const int best = av_find_best_stream(input, type, -1, -1, nullptr, 0);
  auto usable = [&](int i) {
    return i >= 0 && !(input->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC);
  };
  if (usable(best)) return best;
  for (unsigned i = 0; i < input->nb_streams; ++i)
    if (input->streams[i]->codecpar->codec_type == type && usable(int(i))) return int(i);
  return -1;
}

int64_t sync_origin(AVFormatContext* input) {
  int64_t origin = AV_NOPTS_VALUE;
  for (AVMediaType type : {AVMEDIA_TYPE_VIDEO, AVMEDIA_TYPE_AUDIO}) {
    const int i = find_stream(input, type);
    if (i < 0 || input->streams[i]->start_time == AV_NOPTS_VALUE) continue;
    const AVStream* s = input->streams[i];
    const int64_t start = av_rescale_q(s->start_time, s->time_base, AV_TIME_BASE_Q);
    origin = origin == AV_NOPTS_VALUE ? start : std::min(origin, start);
  }
  return origin;
}

StreamDecoder::StreamDecoder(const std::filesystem::path& path, AVMediaType type) : path_(path) {
  quiet_logging();
  require_file(path);
  AVFormatContext* raw = nullptr;
  if (int ret = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); ret < 0)
    fail(path, "cannot open as a media file", ret);
  input_.reset(raw);
  if (int ret = avformat_find_stream_info(input_.get(), nullptr); ret < 0)
    fail(path, "cannot read the stream information", ret);

  const int index = find_stream(input_.get(), type);
  if (index < 0)
    throw Error(path.string(), std::string("no ") + av_get_media_type_string(type) + " stream");
  stream_ = input_->streams[index];
  // The demuxer then skips the other streams' packets cheaply.
  for (unsigned i = 0; i < input_->nb_streams; ++i)
    if (int(i) != index) input_->streams[i]->discard = AVDISCARD_ALL;

  const AVCodec* codec = avcodec_find_decoder(stream_->codecpar->codec_id);
  if (!codec)
    throw Error(path.string(), std::string("no decoder for the ") +
                                   avcodec_get_name(stream_->codecpar->codec_id) + " stream");
  codec_.reset(avcodec_alloc_context3(codec));
  if (!codec_) throw std::bad_alloc();
  if (int ret = avcodec_parameters_to_context(codec_.get(), stream_->codecpar); ret < 0)
    fail(path, "cannot set up the decoder", ret);
  codec_->pkt_timebase = stream_->time_base;
  codec_->thread_count = 0;  // one per core
  codec_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  if (int ret = avcodec_open2(codec_.get(), codec, nullptr); ret < 0)
    fail(path, std::string("cannot open the ") + codec->name + " decoder", ret);
}

bool StreamDecoder::next(AVFrame* frame) {
  int bad_in_a_row = 0;
  auto skip = [&](int error) {
    if (++bad_in_a_row > 100) fail(path_, "undecodable data", error);
  };
  for (;;) {
    int ret = avcodec_receive_frame(codec_.get(), frame);
    if (ret == 0) return true;
    if (ret == AVERROR_EOF) return false;
    if (ret != AVERROR(EAGAIN)) {
      skip(ret);
      continue;
    }
    if (flushing_) return false;
    ret = av_read_frame(input_.get(), packet_.get());
    if (ret == AVERROR_EOF) {
      avcodec_send_packet(codec_.get(), nullptr);
      flushing_ = true;
      continue;
    }
    if (ret < 0) fail(path_, "cannot read", ret);
    if (packet_->stream_index == stream_->index) {
      ret = avcodec_send_packet(codec_.get(), packet_.get());
      if (ret < 0) skip(ret);
    }
    av_packet_unref(packet_.get());
  }
}

}  // namespace dinet::ffmpeg
