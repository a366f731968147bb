// What a file holds, from its header: the server checks uploads with it before any work.
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/media.h"
#include "io/ffmpeg_util.h"

namespace dinet {

MediaStreams probe_media(const std::filesystem::path& path) {
  ffmpeg::quiet_logging();
  require_file(path);
  AVFormatContext* raw = nullptr;
  if (int ret = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); ret < 0)
    ffmpeg::fail(path, "not a video or audio file", ret);
  const ffmpeg::InputPtr input(raw);
  if (int ret = avformat_find_stream_info(input.get(), nullptr); ret < 0)
    ffmpeg::fail(path, "cannot read the stream information", ret);
  MediaStreams streams;
  streams.video = ffmpeg::find_stream(input.get(), AVMEDIA_TYPE_VIDEO) >= 0;
  streams.audio = ffmpeg::find_stream(input.get(), AVMEDIA_TYPE_AUDIO) >= 0;
  if (const AVDictionaryEntry* c = av_dict_get(input->metadata, "comment", nullptr, 0)) streams.comment = c->value;
  if (input->duration > 0) streams.duration_s = double(input->duration) / AV_TIME_BASE;
  return streams;
}

std::string dub_provenance() {
  return std::string("lip-synced by dinet ") + DINET_VERSION + " (the mouth region is generated)";
}

}  // namespace dinet
