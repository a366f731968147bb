// Media files through our FFmpeg wrappers (io/media_probe.cpp, audio_io.cpp, video_reader.cpp):
// every upload of `dinet serve` is probed, every input of the commands read this way.
#include "dinet/media.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = dinet::fuzz::write_input(dinet::fuzz::as_text(data, size), "input.media");
  dinet::fuzz::parse_or_reject([&] {
    const dinet::MediaStreams streams = dinet::probe_media(file);
    if (streams.audio) dinet::load_audio(file);
    if (streams.video) {
      dinet::VideoReader reader(file);
      cv::Mat frame;
      for (int i = 0; i < 8 && reader.read(frame); ++i) {
      }
    }
  });
  return 0;
}
