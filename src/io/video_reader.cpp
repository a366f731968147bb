// Decoding a video to a constant output rate by timestamps: output frame k shows the source
// frame whose presentation interval [pts, next pts) covers k / fps (t = 0 at sync_origin),
// so variable frame rates, dropped and duplicated frames all come out right. Only two
// decoded frames are ever held.
#include <opencv2/core.hpp>

#include <cmath>
#include <cstdlib>

#include "dinet/error.h"
#include "dinet/media.h"
#include "io/ffmpeg_util.h"

extern "C" {
#include <libavutil/display.h>
}

namespace dinet {
namespace fs = std::filesystem;
using namespace ffmpeg;

namespace {

// Clockwise degrees (0, 90, 180, 270) a player turns the picture by: the display matrix
// when there is one, else the older `rotate` tag. Other angles snap to the nearest quarter.
int stream_rotation(const AVStream* stream) {
  double clockwise = 0;
  if (const auto* matrix = reinterpret_cast<const int32_t*>(
          av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr))) {
    const double ccw = av_display_rotation_get(matrix);  // FFmpeg's sign: counterclockwise
    if (!std::isnan(ccw)) clockwise = -ccw;
  } else if (const AVDictionaryEntry* tag = av_dict_get(stream->metadata, "rotate", nullptr, 0)) {
    clockwise = std::atof(tag->value);
  }
  const int quarters = int(std::lround(clockwise / 90.0)) % 4;
  return (quarters + 4) % 4 * 90;
}

int64_t frame_duration(const AVFrame* frame) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
  return frame->duration;
#else
  return frame->pkt_duration;  // FFmpeg 5.1 (Debian 12) has only this name
#endif
}

}  // namespace

struct VideoReader::Impl {
  explicit Impl(const fs::path& path) : source(path, AVMEDIA_TYPE_VIDEO) {}

  StreamDecoder source;
  VideoInfo info;
  // `current` is on screen at the next output time; `pending` is the frame after it.
  FramePtr current = make_frame(), pending = make_frame();
  bool has_current = false, has_pending = false;
  int64_t start_pts = 0;                 // t = 0 (see sync_origin), in stream time base
  int64_t fallback_duration = 0;         // for frames whose container gives no duration
  int64_t decoded_end = AV_NOPTS_VALUE;  // where the latest decoded frame stops showing
  AVRational output_period{};            // 1 / fps
  int64_t frames_out = 0;
  SwsPtr sws;
  int sws_colorspace = -1, sws_range = -1;
  cv::Mat staging;  // swscale's output, before rotation

  bool decode(AVFrame* frame) {
    if (!source.next(frame)) return false;
    // A frame without a timestamp follows the previous one; the latest frame shows for its
    // duration, or the nominal frame period where the file gives none.
    if (frame->best_effort_timestamp == AV_NOPTS_VALUE)
      frame->best_effort_timestamp = decoded_end == AV_NOPTS_VALUE ? start_pts : decoded_end;
    const int64_t duration = frame_duration(frame);
    decoded_end = frame->best_effort_timestamp + (duration > 0 ? duration : fallback_duration);
    return true;
  }

  void advance_to(int64_t t) {
    if (!has_current) {  // the first frame is shown from t = 0 even if it starts a bit later
      std::swap(current, pending);
      has_current = true;
      has_pending = decode(pending.get());
    }
    while (has_pending && pending->best_effort_timestamp <= t) {
      std::swap(current, pending);
      has_pending = decode(pending.get());
    }
  }

  void convert(const AVFrame* frame, cv::Mat& bgr) {
    const int w = rotated() ? info.height : info.width, h = rotated() ? info.width : info.height;
    // Frames whose size changes mid-stream are scaled back to the size announced by info().
    // SWS_BICUBIC without accurate rounding is what OpenCV's reader (the published code's)
    // uses, so frames match it.
    SwsContext* previous = sws.release();
    sws.reset(sws_getCachedContext(previous, frame->width, frame->height,
                                   AVPixelFormat(frame->format), w, h, AV_PIX_FMT_BGR24,
                                   SWS_BICUBIC, nullptr, nullptr, nullptr));
    if (!sws) throw Error(source.path().string(), "cannot convert video frames to BGR");
    // The YUV matrix and range the file declares (BT.601 when it declares none, as OpenCV
    // assumes always). Set only on change: it rebuilds lookup tables.
    if (sws.get() != previous || sws_colorspace != frame->colorspace ||
        sws_range != frame->color_range) {
      sws_setColorspaceDetails(sws.get(), sws_getCoefficients(frame->colorspace),
                               frame->color_range == AVCOL_RANGE_JPEG,
                               sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
      sws_colorspace = frame->colorspace;
      sws_range = frame->color_range;
    }
    // swscale's SIMD writes whole blocks of pixels, past the end of a row whose width is
    // not a multiple of the block: it writes into a buffer with a spare row and a wide
    // stride, never into the caller's Mat.
    staging.create(h + 1, (w + 31) / 32 * 32, CV_8UC3);
    uint8_t* dst[] = {staging.data};
    const int dst_stride[] = {int(staging.step)};
    sws_scale(sws.get(), frame->data, frame->linesize, 0, frame->height, dst, dst_stride);
    const cv::Mat upright = staging(cv::Rect(0, 0, w, h));
    switch (info.rotation_degrees) {
      case 90: cv::rotate(upright, fresh(bgr), cv::ROTATE_90_CLOCKWISE); break;
      case 180: cv::rotate(upright, fresh(bgr), cv::ROTATE_180); break;
      case 270: cv::rotate(upright, fresh(bgr), cv::ROTATE_90_COUNTERCLOCKWISE); break;
      default: upright.copyTo(fresh(bgr));
    }
  }

  bool rotated() const { return info.rotation_degrees % 180 != 0; }

  // A Mat that still shares its pixels with another one (a frame the caller kept) gets new
  // pixels instead of overwriting the kept frame.
  static cv::Mat& fresh(cv::Mat& m) {
    if (m.u && m.u->refcount > 1) m.release();
    return m;
  }
};

VideoReader::VideoReader(const fs::path& path, double fps)
    : impl_(std::make_unique<Impl>(path)) {
  if (!(fps > 0)) throw Error(path.string(), "the output frame rate must be positive");
  Impl& d = *impl_;
  const AVStream* stream = d.source.stream();
  const AVRational tb = stream->time_base;
  AVRational rate = stream->avg_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) rate = stream->r_frame_rate;
  const bool known_rate = rate.num > 0 && rate.den > 0;
  d.output_period = av_inv_q(av_d2q(fps, 1 << 20));
  d.fallback_duration =
      std::max<int64_t>(1, av_rescale_q(1, known_rate ? av_inv_q(rate) : d.output_period, tb));
  const int64_t origin = sync_origin(d.source.input());
  d.start_pts = origin == AV_NOPTS_VALUE ? stream->start_time
                                         : av_rescale_q(origin, AV_TIME_BASE_Q, tb);

  // Decoding the first frame now reports corrupt data at open, and gives the real picture
  // size and, for files that declare no start time, the start.
  if (!d.decode(d.pending.get())) throw Error(path.string(), "no decodable video frame");
  d.has_pending = true;
  if (d.start_pts == AV_NOPTS_VALUE) d.start_pts = d.pending->best_effort_timestamp;

  VideoInfo& info = d.info;
  info.rotation_degrees = stream_rotation(stream);
  info.width = d.rotated() ? d.pending->height : d.pending->width;
  info.height = d.rotated() ? d.pending->width : d.pending->height;
  info.source_fps = known_rate ? av_q2d(rate) : 0.0;
  if (stream->duration != AV_NOPTS_VALUE) {
    // From t = 0, which may be before the video's own start.
    const int64_t start = stream->start_time == AV_NOPTS_VALUE ? d.start_pts : stream->start_time;
    info.duration_s = double(start - d.start_pts + stream->duration) * av_q2d(tb);
  } else if (d.source.input()->duration != AV_NOPTS_VALUE)
    info.duration_s = double(d.source.input()->duration) / AV_TIME_BASE;
  info.has_audio = find_stream(d.source.input(), AVMEDIA_TYPE_AUDIO) >= 0;
  info.frame_count = std::llround(info.duration_s * fps);
}

VideoReader::~VideoReader() = default;

const VideoInfo& VideoReader::info() const { return impl_->info; }

bool VideoReader::read(cv::Mat& bgr) {
  Impl& d = *impl_;
  // Rounding the output time down is exact for the integer test pts <= t.
  const int64_t t = d.start_pts + av_rescale_q_rnd(d.frames_out, d.output_period,
                                                   d.source.stream()->time_base, AV_ROUND_DOWN);
  d.advance_to(t);
  if (!d.has_pending && t >= d.decoded_end) return false;
  d.convert(d.current.get(), bgr);
  ++d.frames_out;
  return true;
}

int64_t VideoReader::frames_read() const { return impl_->frames_out; }

}  // namespace dinet
