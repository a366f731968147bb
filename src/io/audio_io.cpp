// Audio in and out: any decodable audio to mono float at a chosen rate, and 16-bit wav.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/media.h"
#include "io/ffmpeg_util.h"

extern "C" {
#include <libavutil/opt.h>
}

namespace dinet {
namespace fs = std::filesystem;
using namespace ffmpeg;

namespace {

// Converts to planar float at `out_rate`, channels kept. Equal rates only convert the
// sample format (s16 -> float is an exact division by 32768); otherwise soxr resamples
// at 28 bits, its "very high quality".
SwrPtr make_converter(const AVChannelLayout& layout, AVSampleFormat format, int in_rate,
                      int out_rate, const fs::path& path) {
  SwrContext* raw = nullptr;
  auto* channels = const_cast<AVChannelLayout*>(&layout);  // FFmpeg 5.1 lacks the const
  int ret = swr_alloc_set_opts2(&raw, channels, AV_SAMPLE_FMT_FLTP, out_rate, channels, format,
                                in_rate, 0, nullptr);
  SwrPtr swr(raw);
  if (ret < 0) fail(path, "cannot set up the audio conversion", ret);
  if (in_rate != out_rate) {
    av_opt_set_int(swr.get(), "resampler", SWR_ENGINE_SOXR, 0);
    av_opt_set_double(swr.get(), "precision", 28, 0);
    ret = swr_init(swr.get());
    // An FFmpeg built without soxr: its own resampler, with a longer filter than default.
    if (ret < 0) {
      av_opt_set_int(swr.get(), "resampler", SWR_ENGINE_SWR, 0);
      av_opt_set_int(swr.get(), "filter_size", 64, 0);
    }
  }
  if (!swr_is_initialized(swr.get()))
    if (ret = swr_init(swr.get()); ret < 0) fail(path, "cannot set up the audio conversion", ret);
  return swr;
}

// Runs samples through a converter and appends them, made mono, to `out`.
class MonoSink {
 public:
  MonoSink(AudioChannels channels, std::vector<float>& out) : channels_(channels), out_(out) {}

  // `in` == nullptr drains what the resampler still holds.
  void push(SwrContext* swr, int channel_count, const uint8_t** in, int in_samples,
            const fs::path& path) {
    for (;;) {
      const int capacity = swr_get_out_samples(swr, in_samples);
      if (capacity <= 0) return;
      planes_.resize(size_t(channel_count) * capacity);
      std::vector<uint8_t*> pointers(channel_count);
      for (int c = 0; c < channel_count; ++c)
        pointers[c] = reinterpret_cast<uint8_t*>(planes_.data() + size_t(c) * capacity);
      const int n = swr_convert(swr, pointers.data(), capacity, in, in_samples);
      if (n < 0) fail(path, "audio conversion failed", n);
      append(channel_count, capacity, n);
      if (in || n == 0) return;  // input is consumed in one call; draining repeats until empty
    }
  }

 private:
  void append(int channel_count, int stride, int n) {
    const float* p = planes_.data();
    if (channels_ == AudioChannels::first || channel_count == 1) {
      out_.insert(out_.end(), p, p + n);
      return;
    }
    const float scale = 1.0f / float(channel_count);
    for (int i = 0; i < n; ++i) {
      float sum = 0;
      for (int c = 0; c < channel_count; ++c) sum += p[size_t(c) * stride + i];
      out_.push_back(sum * scale);
    }
  }

  AudioChannels channels_;
  std::vector<float>& out_;
  std::vector<float> planes_;
};

void put_u16(std::string& s, uint16_t v) {
  s.push_back(char(v & 0xff));
  s.push_back(char(v >> 8));
}

void put_u32(std::string& s, uint32_t v) {
  put_u16(s, uint16_t(v & 0xffff));
  put_u16(s, uint16_t(v >> 16));
}

// Encoders pad the last packet (AAC to whole frames of 1024 samples) and the decoder returns
// the padding; the container's duration (what ffprobe reports) says where the audio ends.
// Trims to it, but only a padding-sized excess and only from a duration the file states:
// one estimated from the bitrate, or a larger mismatch, keeps every decoded sample.
void trim_end_padding(std::vector<float>& samples, const AVFormatContext* input, const AVStream* s, int rate) {
  if (s->duration == AV_NOPTS_VALUE || s->duration <= 0 ||
      input->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE)
    return;
  const auto stated = size_t(std::llround(double(s->duration) * av_q2d(s->time_base) * rate));
  if (samples.size() > stated && samples.size() - stated <= size_t(rate / 10)) samples.resize(stated);
}

}  // namespace

Audio load_audio(const fs::path& path, int sample_rate, AudioChannels channels) {
  if (sample_rate <= 0) throw Error(path.string(), "the sample rate must be positive");
  StreamDecoder source(path, AVMEDIA_TYPE_AUDIO);
  Audio audio;
  audio.sample_rate = sample_rate;
  if (const AVStream* s = source.stream(); s->duration != AV_NOPTS_VALUE)
    audio.samples.reserve(size_t(std::max(0.0, double(s->duration) * av_q2d(s->time_base) *
                                                   sample_rate * 1.01)));
  MonoSink sink(channels, audio.samples);
  FramePtr frame = make_frame();
  SwrPtr swr;
  // What the converter was made for: a stream may change format mid-way (mp3 can).
  int format = -1, rate = 0, channel_count = 0;
  while (source.next(frame.get())) {
    const int frame_channels = frame->ch_layout.nb_channels;
    if (frame->format != format || frame->sample_rate != rate || frame_channels != channel_count) {
      if (swr) sink.push(swr.get(), channel_count, nullptr, 0, path);
      format = frame->format;
      rate = frame->sample_rate;
      channel_count = frame_channels;
      swr = make_converter(frame->ch_layout, AVSampleFormat(format), rate, sample_rate, path);
    }
    sink.push(swr.get(), channel_count, const_cast<const uint8_t**>(frame->extended_data),
              frame->nb_samples, path);
  }
  if (!swr) throw Error(path.string(), "no decodable audio");
  sink.push(swr.get(), channel_count, nullptr, 0, path);
  const AVStream* s = source.stream();
  trim_end_padding(audio.samples, source.input(), s, sample_rate);
  // A video that starts before its audio: silence until the audio starts keeps the samples
  // in sync with VideoReader's frames.
  if (const int64_t origin = sync_origin(source.input());
      origin != AV_NOPTS_VALUE && s->start_time != AV_NOPTS_VALUE) {
    const double lead = double(s->start_time) * av_q2d(s->time_base) - double(origin) / AV_TIME_BASE;
    if (const auto silence = std::lround(lead * sample_rate); silence > 0)
      audio.samples.insert(audio.samples.begin(), size_t(silence), 0.0f);
  }
  return audio;
}

Audio resample(const Audio& audio, int sample_rate) {
  if (sample_rate <= 0 || audio.sample_rate <= 0)
    throw Error("resample: sample rates must be positive");
  if (sample_rate == audio.sample_rate) return audio;
  quiet_logging();
  Audio out;
  out.sample_rate = sample_rate;
  out.samples.reserve(size_t(double(audio.samples.size()) * sample_rate / audio.sample_rate) + 64);
  const AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  const fs::path what = "resample";
  SwrPtr swr = make_converter(mono, AV_SAMPLE_FMT_FLT, audio.sample_rate, sample_rate, what);
  MonoSink sink(AudioChannels::first, out.samples);
  const auto* in = reinterpret_cast<const uint8_t*>(audio.samples.data());
  sink.push(swr.get(), 1, &in, int(audio.samples.size()), what);
  sink.push(swr.get(), 1, nullptr, 0, what);
  return out;
}

void write_wav(const fs::path& path, const Audio& audio) {
  if (audio.sample_rate <= 0) throw Error(path.string(), "the sample rate must be positive");
  const uint64_t data_bytes = uint64_t(audio.samples.size()) * 2;
  if (data_bytes > 0xffffffffull - 36) throw Error(path.string(), "too long for a wav file");
  std::string bytes;
  bytes.reserve(44 + data_bytes);
  bytes += "RIFF";
  put_u32(bytes, uint32_t(36 + data_bytes));
  bytes += "WAVEfmt ";
  put_u32(bytes, 16);  // fmt chunk size
  put_u16(bytes, 1);   // PCM
  put_u16(bytes, 1);   // mono
  put_u32(bytes, uint32_t(audio.sample_rate));
  put_u32(bytes, uint32_t(audio.sample_rate) * 2);  // bytes per second
  put_u16(bytes, 2);                                // bytes per frame
  put_u16(bytes, 16);                               // bits per sample
  bytes += "data";
  put_u32(bytes, uint32_t(data_bytes));
  for (float x : audio.samples) {
    // The inverse of load_audio's sample / 32768, so a wav survives a round trip exactly.
    const long v = std::lrint(std::clamp(x * 32768.0f, -32768.0f, 32767.0f));
    put_u16(bytes, uint16_t(int16_t(v)));
  }
  write_file_atomic(path, bytes);
}

}  // namespace dinet
