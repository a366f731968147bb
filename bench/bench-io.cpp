// dinet-bench io: video decoding to 25 fps BGR and H.264 encoding, in frames/s.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "bench.h"
#include "dinet/media.h"

namespace dinet::bench {
namespace {

struct IoBenchOptions {
  std::vector<std::string> videos = {"../shared/data/real/mimictalk_German_20s.mp4",
                                     "../shared/data/real/latentsync_demo2_video.mp4"};
  std::vector<std::string> sizes = {"512x512", "1080x1920"};
  int frames = 100;  // encoded per run
  std::string preset = "veryfast";
  int repeats = 3;
};

template <typename F>
double median_seconds(int repeats, F&& run) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void run_io_bench(const IoBenchOptions& options) {
  std::printf("Media I/O: whole-file decode to 25 fps BGR; x264 preset %s encode of %d frames. "
              "Median of %d runs.\n\n",
              options.preset.c_str(), options.frames, options.repeats);
  const Table table({"step", "input", "size", "frames", "seconds", "frames/s"}, "llrrrr");
  const auto print_row = [&](const char* step, const std::string& input, int width, int height, int64_t frames,
                             double seconds) {
    table.row({step, input, cell("%dx%d", width, height), cell("%lld", static_cast<long long>(frames)),
               cell("%.2f", seconds), cell("%.1f", double(frames) / seconds)});
  };
  for (const auto& video : options.videos) {
    int64_t frames = 0;
    int width = 0, height = 0;
    const double seconds = median_seconds(options.repeats, [&] {
      VideoReader reader(video);
      width = reader.info().width, height = reader.info().height;
      cv::Mat frame;
      while (reader.read(frame)) {
      }
      frames = reader.frames_read();
    });
    print_row("decode", std::filesystem::path(video).filename().string(), width, height, frames,
              seconds);
  }
  for (const auto& size : options.sizes) {
    int width = 0, height = 0;
    if (std::sscanf(size.c_str(), "%dx%d", &width, &height) != 2 || width <= 0 || height <= 0)
      throw std::runtime_error("--size wants WIDTHxHEIGHT, got " + size);
    // Smooth blobs that move from frame to frame, so the encoder does real work.
    cv::Mat noise(height / 8 + 8, width / 8 + 8, CV_8UC3), canvas;
    cv::randu(noise, 0, 255);
    cv::resize(noise, canvas, {width + 64, height + 64}, 0, 0, cv::INTER_CUBIC);
    const auto path = std::filesystem::temp_directory_path() / "dinet-bench-io.mp4";
    VideoWriterOptions writer_options;
    writer_options.preset = options.preset;
    const double seconds = median_seconds(options.repeats, [&] {
      VideoWriter writer(path, width, height, writer_options);
      for (int k = 0; k < options.frames; ++k)
        writer.write(canvas(cv::Rect(k % 64, (3 * k) % 64, width, height)));
      writer.finish();
    });
    std::filesystem::remove(path);
    print_row("encode", "synthetic", width, height, options.frames, seconds);
  }
}

std::function<void()> setup_io_bench(CLI::App& app) {
  auto options = std::make_shared<IoBenchOptions>();
  app.add_option("--video", options->videos,
                 "videos to decode (default: two clips from ../shared/data/real)");
  app.add_option("--size", options->sizes, "frame sizes to encode (default: 512x512 1080x1920)");
  app.add_option("--frames", options->frames, "frames encoded per run (default: 100)");
  app.add_option("--preset", options->preset, "x264 preset (default: veryfast)");
  app.add_option("-r,--repeats", options->repeats, "timed runs per row (default: 3)");
  return [options] { run_io_bench(*options); };
}

}  // namespace

DINET_BENCH("io", "video decode and H.264 encode frames/s", setup_io_bench);

}  // namespace dinet::bench
