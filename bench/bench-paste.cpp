// dinet-bench paste: what `dinet infer` pays per frame to put a generated face back, by paste
// mode. The prediction is the frame's own crop (the cost does not depend on its content); the
// frames are decoded and their landmarks found before the clock starts. Also the PSNR outside
// the lower-face mask, before any encoding: 100 (the cap) where the paste left it untouched.
#include <opencv2/core.hpp>

#include <cstdio>

#include "bench.h"
#include "dinet/crop.h"
#include "dinet/evaluate.h"
#include "dinet/face.h"
#include "dinet/media.h"
#include "dinet/runtime.h"

namespace dinet::bench {
namespace {

struct PasteBenchOptions {
  std::vector<std::string> videos;
  int mouth = 256;
  int frames = 100;
  int repeats = 3;
  std::string model = default_landmark_model().string();
};

void run_paste_bench(const PasteBenchOptions& options) {
  set_threads(1);  // the paste runs on the encoder's thread
  const LandmarkModel model(options.model);
  const cv::Size face = face_size(options.mouth).size();
  std::printf("Paste of a %dx%d face (mouth %d) back into its frame, one thread, first %d frames, "
              "median of %d runs.\n\n",
              face.width, face.height, options.mouth, options.frames, options.repeats);
  const Table table({"video", "size", "hard ms/f", "feathered ms/f", "lower_face ms/f",
                     "feathered PSNR outside mask dB", "lower_face PSNR outside mask dB"},
                    "llrrrrr");
  for (const std::string& video : options.videos) {
    std::vector<cv::Mat> frames;
    {
      VideoReader reader(video);
      cv::Mat frame;
      while (static_cast<int>(frames.size()) < options.frames && reader.read(frame)) frames.push_back(frame.clone());
    }
    LandmarkOptions landmark_options;
    landmark_options.threads = 1;
    const LandmarkTrack track = detect_video_landmarks(video, model, landmark_options).track;
    const auto windows = crop_windows(track);
    std::vector<cv::Mat> crops(frames.size());
    for (size_t t = 0; t < frames.size(); ++t)
      if (windows[t]) crops[t] = crop_face(frames[t], *windows[t], face);
    double ms[3] = {};
    const PasteMode modes[3] = {PasteMode::Hard, PasteMode::Feathered, PasteMode::LowerFace};
    for (int m = 0; m < 3; ++m) {
      int64_t pasted = 0;
      const Timing timing = median_timing(options.repeats, [&] {
        pasted = 0;
        for (size_t t = 0; t < frames.size(); ++t) {
          if (!windows[t]) continue;
          cv::Mat target = frames[t].clone();
          paste_face(target, crops[t], *windows[t], modes[m], &track.frames[t]);
          ++pasted;
        }
      });
      ms[m] = pasted ? 1000 * timing.wall / double(pasted) : 0;
    }
    // Every frame's outside-the-mask pixels, source against pasted, pooled into one PSNR.
    double psnr_outside[2] = {};
    for (int m = 1; m < 3; ++m) {
      std::vector<cv::Mat> sources, pasted;
      for (size_t t = 0; t < frames.size(); ++t) {
        if (!windows[t]) continue;
        cv::Mat target = frames[t].clone(), source = frames[t].clone();
        paste_face(target, crops[t], *windows[t], modes[m], &track.frames[t]);
        const FrameMask mask = lower_face_mask(track.frames[t], source.size());
        target(mask.roi).setTo(0, mask.alpha > 0);
        source(mask.roi).setTo(0, mask.alpha > 0);
        sources.push_back(source);
        pasted.push_back(target);
      }
      cv::Mat all_sources, all_pasted;
      if (!sources.empty()) {
        cv::vconcat(sources, all_sources);
        cv::vconcat(pasted, all_pasted);
        psnr_outside[m - 1] = psnr(all_pasted, all_sources);
      }
    }
    table.row({std::filesystem::path(video).filename().string(),
               cell("%dx%d", frames.empty() ? 0 : frames[0].cols, frames.empty() ? 0 : frames[0].rows),
               cell("%.3f", ms[0]), cell("%.3f", ms[1]), cell("%.3f", ms[2]), cell("%.1f", psnr_outside[0]),
               cell("%.1f", psnr_outside[1])});
  }
}

std::function<void()> setup_paste_bench(CLI::App& app) {
  auto options = std::make_shared<PasteBenchOptions>();
  app.add_option("videos", options->videos, "videos to measure (e.g. ../shared/data/real/*.mp4)")->required();
  app.add_option("--mouth", options->mouth, "mouth region size of the pasted face (default: 256)");
  app.add_option("--frames", options->frames, "frames per video (default: 100)");
  app.add_option("-r,--repeats", options->repeats, "timed runs per video (default: 3)");
  app.add_option("--landmark_model", options->model, "dlib 68-point shape predictor");
  return [options] { run_paste_bench(*options); };
}

}  // namespace

DINET_BENCH("paste", "paste-back ms/frame by mode (hard, feathered, lower_face) on real clips", setup_paste_bench);

}  // namespace dinet::bench
