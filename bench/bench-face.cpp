// dinet-bench face: what `prepare` pays per frame for faces. Pass 1 decodes and tracks the
// landmarks (gap filling and smoothing included); pass 2 decodes again and crops every
// frame's face to the model size, as the crop step does once the whole track is known.
#include <opencv2/core.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "bench.h"
#include "dinet/crop.h"
#include "dinet/face.h"
#include "dinet/media.h"
#include "dinet/runtime.h"

namespace dinet::bench {
namespace {

struct FaceBenchOptions {
  std::vector<std::string> videos;
  int mouth = 256;
  int repeats = 3;
  int threads = 2;
  std::string model = default_landmark_model().string();
};

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  return in >> one ? std::to_string(one).substr(0, 4) : "unknown";
}

void run_face_bench(const FaceBenchOptions& options) {
  const int threads = set_threads(options.threads);
  const LandmarkModel model(options.model);
  LandmarkOptions landmark_options;
  landmark_options.threads = threads;
  const cv::Size face = face_size(options.mouth).size();
  std::printf("Decode + landmarks (tracked, gaps filled, smoothed) + crop to %dx%d (mouth %d), "
              "%d threads, median of %d runs; total = both passes. CPU ms/f counts every "
              "thread. Load average before the runs: %s (a shared machine slows every "
              "number).\n\n",
              face.width, face.height, options.mouth, threads, options.repeats,
              load_average().c_str());
  const Table table({"video", "size", "frames", "detector runs", "decode f/s", "landmarks f/s", "crop f/s",
                     "total f/s", "landmarks CPU ms/f", "crop CPU ms/f"},
                    "llrrrrrrrr");
  for (const std::string& video : options.videos) {
    const VideoInfo info = VideoReader(video).info();
    int64_t frames = 0;
    const Timing decode = median_timing(options.repeats, [&] {
      VideoReader reader(video);
      cv::Mat frame;
      for (frames = 0; reader.read(frame);) ++frames;
    });
    VideoLandmarks result;
    const Timing landmarks = median_timing(options.repeats, [&] {
      result = detect_video_landmarks(video, model, landmark_options);
    });
    const auto windows = crop_windows(result.track);
    const Timing crop = median_timing(options.repeats, [&] {
      VideoReader reader(video);
      cv::Mat frame;
      for (size_t t = 0; reader.read(frame); ++t)
        if (t < windows.size() && windows[t]) cv::Mat f = crop_face(frame, *windows[t], face);
    });
    const double n = double(frames);
    table.row({std::filesystem::path(video).filename().string(), cell("%dx%d", info.width, info.height),
               cell("%lld", static_cast<long long>(frames)), cell("%lld", static_cast<long long>(result.detector_runs)),
               cell("%.0f", n / decode.wall), cell("%.0f", n / landmarks.wall), cell("%.0f", n / crop.wall),
               cell("%.0f", n / (landmarks.wall + crop.wall)), cell("%.2f", 1000 * landmarks.cpu / n),
               cell("%.2f", 1000 * crop.cpu / n)});
  }
}

std::function<void()> setup_face_bench(CLI::App& app) {
  auto options = std::make_shared<FaceBenchOptions>();
  app.add_option("videos", options->videos, "videos to measure (e.g. ../shared/data/real/*.mp4)")
      ->required();
  app.add_option("--mouth", options->mouth, "mouth region size of the crop (default: 256)");
  app.add_option("-r,--repeats", options->repeats, "timed runs per video (default: 3)");
  app.add_option("--threads", options->threads,
                 "threads: 2 decodes while tracking (default: 2; the target machine has 2 cores)");
  app.add_option("--landmark_model", options->model, "dlib 68-point shape predictor");
  return [options] { run_face_bench(*options); };
}

}  // namespace

DINET_BENCH("face", "decode + landmarks + crop frames/s on real clips", setup_face_bench);

}  // namespace dinet::bench
