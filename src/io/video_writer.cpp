// H.264 + AAC into an .mp4 through libavformat. Audio is encoded alongside the video frames
// (up to the time of the latest frame), so the file interleaves well however long either is.
#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/media.h"
#include "io/ffmpeg_util.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/opt.h>
}

namespace dinet {
namespace fs = std::filesystem;
using namespace ffmpeg;

namespace {

struct OutputDeleter {
  void operator()(AVFormatContext* p) const {
    if (!(p->oformat->flags & AVFMT_NOFILE)) avio_closep(&p->pb);
    avformat_free_context(p);
  }
};

// x264 checks its preset only when the encoder opens, and then prints to stderr itself.
void require_x264_preset(const std::string& name, const std::string& path) {
  static const char* const presets[] = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                        "medium",    "slow",      "slower",   "veryslow",
                                        "placebo"};
  for (const char* p : presets)
    if (name == p) return;
  throw Error(path, "unknown x264 preset \"" + name +
                        "\" (ultrafast, superfast, veryfast, faster, fast, medium, slow, "
                        "slower, veryslow, placebo)");
}

// The encoder's rate when it supports the audio's own rate, else 48 kHz.
int aac_rate(const AVCodec* codec, int wanted) {
  if (!codec->supported_samplerates) return wanted;
  for (const int* r = codec->supported_samplerates; *r; ++r)
    if (*r == wanted) return wanted;
  return 48000;
}

}  // namespace

struct VideoWriter::Impl {
  std::string name;  // the final path, for messages
  AtomicFile file;
  std::unique_ptr<AVFormatContext, OutputDeleter> output;
  CodecPtr video, audio;
  AVStream *video_stream = nullptr, *audio_stream = nullptr;
  FramePtr picture = make_frame(), sound = make_frame();
  PacketPtr packet = make_packet();
  SwsPtr sws;
  int width = 0, height = 0;  // as given; the encoder's may be one larger (even)
  cv::Mat staging;  // what swscale reads
  int64_t frames = 0;
  std::vector<float> samples;  // mono, at the audio encoder's rate
  size_t samples_sent = 0;
  bool finished = false;

  explicit Impl(const fs::path& path) : name(path.string()), file(path) {}

  [[noreturn]] void fail(const std::string& what, int code) { ffmpeg::fail(name, what, code); }

  void add_video(const VideoWriterOptions& options) {
    const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) throw Error(name, "this FFmpeg has no libx264 encoder");
    video.reset(avcodec_alloc_context3(codec));
    if (!video) throw std::bad_alloc();
    video->width = width + (width & 1);
    video->height = height + (height & 1);
    video->pix_fmt = AV_PIX_FMT_YUV420P;
    video->framerate = av_d2q(options.fps, 1 << 20);
    video->time_base = av_inv_q(video->framerate);
    // swscale's RGB -> YUV matrix is BT.601 (limited range); saying so lets players and our
    // reader invert it exactly.
    video->colorspace = AVCOL_SPC_SMPTE170M;
    video->color_range = AVCOL_RANGE_MPEG;
    video->thread_count = 0;
    if (output->oformat->flags & AVFMT_GLOBALHEADER) video->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    require_x264_preset(options.preset, name);
    av_opt_set(video->priv_data, "preset", options.preset.c_str(), 0);
    if (int ret = av_opt_set_int(video->priv_data, "crf", options.crf, 0); ret < 0)
      fail("CRF " + std::to_string(options.crf) + " is out of range", ret);
    if (int ret = avcodec_open2(video.get(), codec, nullptr); ret < 0)
      fail("cannot open the H.264 encoder", ret);

    video_stream = new_stream(video.get());
    if (options.rotation_degrees % 360 != 0) {
      if (options.rotation_degrees % 90 != 0)
        throw Error(name, "rotation must be a multiple of 90 degrees");
      auto* matrix = reinterpret_cast<int32_t*>(av_stream_new_side_data(
          video_stream, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t)));
      if (!matrix) throw std::bad_alloc();
      // The matrix phones write for a clockwise turn (FFmpeg's set and get functions
      // disagree in sign; the reader follows the ffmpeg tool's reading of get).
      av_display_rotation_set(matrix, double(options.rotation_degrees));
    }

    picture->format = video->pix_fmt;
    picture->width = video->width;
    picture->height = video->height;
    if (int ret = av_frame_get_buffer(picture.get(), 0); ret < 0)
      fail("cannot allocate a video frame", ret);
    // Accurate rounding: swscale's fast BGR -> YUV 4:2:0 path biases chroma by -1 (grey
    // comes back tinted), for a cost far below the encoder's.
    sws.reset(sws_getContext(video->width, video->height, AV_PIX_FMT_BGR24, video->width,
                             video->height, AV_PIX_FMT_YUV420P,
                             SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr, nullptr,
                             nullptr));
    if (!sws) throw Error(name, "cannot convert BGR frames to YUV");
  }

  void add_audio(const Audio& given) {
    const AVCodec* codec = avcodec_find_encoder_by_name("aac");
    if (!codec) throw Error(name, "this FFmpeg has no aac encoder");
    audio.reset(avcodec_alloc_context3(codec));
    if (!audio) throw std::bad_alloc();
    audio->sample_fmt = AV_SAMPLE_FMT_FLTP;
    audio->sample_rate = aac_rate(codec, given.sample_rate);
    audio->time_base = AVRational{1, audio->sample_rate};
    audio->ch_layout = AV_CHANNEL_LAYOUT_MONO;
    if (output->oformat->flags & AVFMT_GLOBALHEADER) audio->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (int ret = avcodec_open2(audio.get(), codec, nullptr); ret < 0)
      fail("cannot open the AAC encoder", ret);
    audio_stream = new_stream(audio.get());
    samples = resample(given, audio->sample_rate).samples;
  }

  AVStream* new_stream(const AVCodecContext* encoder) {
    AVStream* stream = avformat_new_stream(output.get(), nullptr);
    if (!stream) throw std::bad_alloc();
    if (int ret = avcodec_parameters_from_context(stream->codecpar, encoder); ret < 0)
      fail("cannot describe a stream", ret);
    stream->time_base = encoder->time_base;  // a hint; the muxer may choose another
    return stream;
  }

  // Sends a frame (nullptr: the end) and writes every packet the encoder gives back.
  void encode(AVCodecContext* encoder, AVStream* stream, const AVFrame* frame) {
    if (int ret = avcodec_send_frame(encoder, frame); ret < 0) fail("encoding failed", ret);
    for (;;) {
      int ret = avcodec_receive_packet(encoder, packet.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
      if (ret < 0) fail("encoding failed", ret);
      // libx264 leaves durations unset; without them the muxer cuts the last frame short.
      if (packet->duration <= 0 && encoder == video.get()) packet->duration = 1;
      av_packet_rescale_ts(packet.get(), encoder->time_base, stream->time_base);
      packet->stream_index = stream->index;
      ret = av_interleaved_write_frame(output.get(), packet.get());  // takes the packet's data
      if (ret < 0) fail("cannot write", ret);
    }
  }

  // Encodes the audio up to sample `until` in whole encoder frames; `all` takes the rest
  // too, the last frame short.
  void encode_audio(size_t until, bool all) {
    if (!audio) return;
    const size_t frame_size = audio->frame_size > 0 ? size_t(audio->frame_size) : 1024;
    until = std::min(until, samples.size());
    while (samples_sent < samples.size() &&
           (samples_sent + frame_size <= until || (all && samples_sent < until))) {
      const size_t n = std::min(frame_size, samples.size() - samples_sent);
      av_frame_unref(sound.get());
      sound->format = audio->sample_fmt;
      sound->sample_rate = audio->sample_rate;
      sound->nb_samples = int(n);
      av_channel_layout_copy(&sound->ch_layout, &audio->ch_layout);
      if (int ret = av_frame_get_buffer(sound.get(), 0); ret < 0)
        fail("cannot allocate an audio frame", ret);
      std::copy_n(samples.data() + samples_sent, n, reinterpret_cast<float*>(sound->data[0]));
      sound->pts = int64_t(samples_sent);
      encode(audio.get(), audio_stream, sound.get());
      samples_sent += n;
    }
  }
};

VideoWriter::VideoWriter(const fs::path& path, int width, int height,
                         const VideoWriterOptions& options, const Audio* audio)
    : impl_(std::make_unique<Impl>(path)) {
  quiet_logging();
  Impl& d = *impl_;
  if (width <= 0 || height <= 0) throw Error(d.name, "frame size must be positive");
  if (!(options.fps > 0)) throw Error(d.name, "the frame rate must be positive");
  if (audio && audio->sample_rate <= 0)
    throw Error(d.name, "the audio sample rate must be positive");
  d.width = width;
  d.height = height;

  AVFormatContext* raw = nullptr;
  const std::string temp = d.file.temp_path().string();
  if (int ret = avformat_alloc_output_context2(&raw, nullptr, nullptr, temp.c_str()); ret < 0)
    d.fail("cannot choose a container from the file name", ret);
  d.output.reset(raw);
  d.add_video(options);
  if (audio && !audio->samples.empty()) d.add_audio(*audio);

  if (!(d.output->oformat->flags & AVFMT_NOFILE))
    if (int ret = avio_open(&d.output->pb, temp.c_str(), AVIO_FLAG_WRITE); ret < 0)
      d.fail("cannot create", ret);
  if (!options.comment.empty()) av_dict_set(&d.output->metadata, "comment", options.comment.c_str(), 0);
  AVDictionary* muxer_options = nullptr;
  if (options.faststart) av_dict_set(&muxer_options, "movflags", "+faststart", 0);
  const int ret = avformat_write_header(d.output.get(), &muxer_options);
  av_dict_free(&muxer_options);
  if (ret < 0) d.fail("cannot write the header", ret);
}

VideoWriter::~VideoWriter() = default;

void VideoWriter::write(const cv::Mat& bgr) {
  Impl& d = *impl_;
  if (d.finished) throw Error(d.name, "write() after finish()");
  if (bgr.type() != CV_8UC3 || bgr.cols != d.width || bgr.rows != d.height)
    throw Error(d.name, "expected " + std::to_string(d.width) + "x" + std::to_string(d.height) +
                            " BGR frames, got " + std::to_string(bgr.cols) + "x" +
                            std::to_string(bgr.rows) + " with " + std::to_string(bgr.channels()) +
                            " channels");
  // swscale's SIMD reads whole blocks of pixels, past the end of the last row: it reads
  // from a copy with a spare row and a wide stride. Odd sizes are padded on the way.
  d.staging.create(d.video->height + 1, (d.video->width + 31) / 32 * 32, CV_8UC3);
  cv::Mat source = d.staging(cv::Rect(0, 0, d.video->width, d.video->height));
  cv::copyMakeBorder(bgr, source, 0, d.video->height - d.height, 0, d.video->width - d.width,
                     cv::BORDER_REPLICATE);
  // The encoder may still hold the previous picture.
  if (int ret = av_frame_make_writable(d.picture.get()); ret < 0)
    d.fail("cannot allocate a video frame", ret);
  const uint8_t* src[] = {source.data};
  const int src_stride[] = {int(source.step)};
  sws_scale(d.sws.get(), src, src_stride, 0, source.rows, d.picture->data, d.picture->linesize);
  d.picture->pts = d.frames++;
  d.encode(d.video.get(), d.video_stream, d.picture.get());
  // The audio that plays until this frame ends.
  const double seconds = double(d.frames) * av_q2d(d.video->time_base);
  d.encode_audio(d.audio ? size_t(std::ceil(seconds * d.audio->sample_rate)) : 0, false);
}

void VideoWriter::finish() {
  Impl& d = *impl_;
  if (d.finished) return;
  if (d.frames == 0) throw Error(d.name, "no video frames were written");
  d.encode(d.video.get(), d.video_stream, nullptr);
  if (d.audio) {
    d.encode_audio(d.samples.size(), true);
    d.encode(d.audio.get(), d.audio_stream, nullptr);
  }
  if (int ret = av_write_trailer(d.output.get()); ret < 0) d.fail("cannot finish", ret);
  d.output.reset();  // closes the file before it is renamed
  d.file.commit();
  d.finished = true;
}

}  // namespace dinet
