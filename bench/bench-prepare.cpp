// dinet-bench prepare: the whole `dinet prepare --all` (decode + landmarks + crop + audio +
// features + json) on real clips, against the published steps that can run here: the
// frame dump (decode, then cv2.imwrite of every full frame at its default JPEG quality 95)
// and the published crop step (read those frames back, cut the face, write it at quality
// 95), with our landmarks standing in for OpenFace, which cannot run here.
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include "bench.h"
#include "dinet/crop.h"
#include "dinet/landmarks.h"
#include "dinet/media.h"
#include "dinet/prepare.h"
#include "dinet/runtime.h"
#include "data/prepare_steps.h"

namespace dinet::bench {
namespace {

namespace fs = std::filesystem;

struct PrepareBenchOptions {
  std::vector<std::string> videos;
  std::string work_dir;
  std::string audio_feature = "mel";
  int jpeg_quality = 90;
  int repeats = 1;
  int jobs = 0;
};

// Apparent bytes of the files under `path` (what `ls -l` adds up), next to the allocated
// bytes that prepare::disk_usage counts.
uint64_t file_bytes(const fs::path& path) {
  if (fs::is_regular_file(path)) return fs::file_size(path);
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(path))
    if (e.is_regular_file()) total += e.file_size();
  return total;
}

std::string six(int64_t n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(n));
  return buf;
}

// Published step 1: every frame through cv2.imwrite (JPEG quality 95), videos in parallel.
int64_t published_frame_dump(const std::vector<fs::path>& videos, const fs::path& out, int jobs) {
  std::atomic<int64_t> frames{0};
  prepare::run_parallel(videos.size(), jobs, [&](size_t i) {
    const fs::path dir = out / videos[i].stem();
    fs::create_directories(dir);
    VideoReader reader(videos[i]);
    cv::Mat frame;
    for (int64_t n = 0; reader.read(frame); ++n, ++frames)
      cv::imwrite((dir / (six(n) + ".jpg")).string(), frame, {cv::IMWRITE_JPEG_QUALITY, 95});
  });
  return frames;
}

// Published step 4 without OpenFace: read the dumped frames of each 9-frame clip, cut the
// window of the published crop radius (random scale), write it at quality 95.
void published_crop(const std::vector<fs::path>& videos, const fs::path& frames_dir,
                    const fs::path& csv_dir, const fs::path& out, int jobs) {
  prepare::run_parallel(videos.size(), jobs, [&](size_t i) {
    const std::string name = videos[i].stem().string();
    const LandmarkTrack track = read_openface_csv(csv_dir / (name + ".csv"));
    std::mt19937_64 rng(i);
    const cv::Mat first = cv::imread((frames_dir / name / "000000.jpg").string());
    for (int64_t end = 9, clip = 0; end < static_cast<int64_t>(track.size()); end += 9, ++clip) {
      const std::span<const FaceLandmarks> run(track.frames.data() + end - 9, 9);
      const auto radius = published_crop_radius(
          first.size(), run, 1.05 + std::generate_canonical<double, 53>(rng) / 10);
      if (!radius) continue;
      const fs::path dir = out / name / six(clip);
      fs::create_directories(dir);
      for (int64_t t = end - 9; t < end; ++t) {
        const cv::Mat frame = cv::imread((frames_dir / name / (six(t) + ".jpg")).string());
        const CropWindow w = crop_window(track.frames[t], *radius, true);
        cv::imwrite((dir / (six(t) + ".jpg")).string(), frame(cv::Rect(w.rect)),
                    {cv::IMWRITE_JPEG_QUALITY, 95});
      }
    }
  });
}

void run_prepare_bench(const PrepareBenchOptions& o) {
  const int jobs =
      o.jobs > 0 ? o.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  set_threads(1);  // one thread per job, as `dinet prepare` sets it with --jobs = cores
  const ScratchDir scratch(o.work_dir.empty() ? fs::temp_directory_path() / "dinet-bench-prepare"
                                              : fs::path(o.work_dir));
  const fs::path& work = scratch.path;
  std::vector<fs::path> videos(o.videos.begin(), o.videos.end());
  int64_t video_bytes = 0;
  for (const auto& v : videos) video_bytes += static_cast<int64_t>(fs::file_size(v));

  // Ours: a fresh layout per run, the median run reported.
  std::vector<std::pair<Timing, PrepareSummary>> runs;
  PrepareParams p;
  for (int r = 0; r < std::max(1, o.repeats); ++r) {
    const fs::path root = work / ("ours_" + std::to_string(r));
    p = default_prepare_params(root);
    fs::create_directories(p.source_video_dir);
    for (const auto& v : videos) fs::copy_file(v, p.source_video_dir / v.filename());
    p.all = true;
    p.audio_feature = o.audio_feature;
    p.jpeg_quality = o.jpeg_quality;
    p.jobs = jobs;
    p.show_progress = false;
    PrepareSummary s;
    const Timing t = measure([&] { s = run_prepare(p); });
    if (!s.failed_videos().empty()) std::fprintf(stderr, "%s", format_summary(s).c_str());
    runs.emplace_back(t, std::move(s));
  }
  std::sort(runs.begin(), runs.end(),
            [](const auto& a, const auto& b) { return a.first.wall < b.first.wall; });
  const auto& [ours_time, ours] = runs[runs.size() / 2];
  const double frames = static_cast<double>(ours.frames);

  // Published: frame dump, then its crop step from the dumped frames.
  const fs::path dump = work / "published_frames", crops = work / "published_crops";
  int64_t dumped = 0;
  const Timing dump_time = measure([&] { dumped = published_frame_dump(videos, dump, jobs); });
  const Timing crop_time =
      measure([&] { published_crop(videos, dump, p.openface_landmark_dir, crops, jobs); });

  std::printf(
      "%zu videos, %lld frames (%.1f MB of video), %d jobs, `dinet prepare --all "
      "--audio_feature %s --jpeg_quality %d`, median of %d runs.\n\n",
      videos.size(), static_cast<long long>(ours.frames), video_bytes / 1e6, jobs,
      o.audio_feature.c_str(), o.jpeg_quality, std::max(1, o.repeats));
  const Table table({"pipeline", "seconds", "frames/s", "CPU ms/frame", "disk (allocated)", "files", "files per frame"},
                    "lrrrrrr");
  auto row = [&](const std::string& name, Timing t, uint64_t allocated, uint64_t bytes) {
    table.row({name, cell("%.2f", t.wall), cell("%.0f", frames / t.wall), cell("%.2f", 1000 * t.cpu / frames),
               cell("%.2f MB", allocated / 1e6), cell("%.2f MB", bytes / 1e6), cell("%.1f KB", bytes / 1e3 / frames)});
  };
  uint64_t ours_bytes = 0;
  for (const auto& usage : ours.disk_usage) ours_bytes += file_bytes(usage.first);
  row("dinet prepare --all (decode, landmarks, crop, wav, features, json)", ours_time,
      ours.disk_bytes(), ours_bytes);
  const uint64_t dump_alloc = prepare::disk_usage(dump), dump_bytes = file_bytes(dump);
  const uint64_t crop_alloc = prepare::disk_usage(crops), crop_bytes = file_bytes(crops);
  row("published frame dump (decode + imwrite q95)", dump_time, dump_alloc, dump_bytes);
  row("published crop step (imread + crop + imwrite q95)", crop_time, crop_alloc, crop_bytes);
  row("published dump + crop (no OpenFace, no DeepSpeech)",
      {dump_time.wall + crop_time.wall, dump_time.cpu + crop_time.cpu}, dump_alloc + crop_alloc,
      dump_bytes + crop_bytes);
  std::printf("\nOurs, per output folder:\n\n");
  const Table folders({"folder", "allocated", "files"}, "lrr");
  for (const auto& [path, allocated] : ours.disk_usage)
    folders.row({path.filename().string(), cell("%.2f MB", allocated / 1e6), cell("%.2f MB", file_bytes(path) / 1e6)});
  if (dumped != ours.frames)
    std::printf("\n(the frame dump decoded %lld frames)\n", static_cast<long long>(dumped));
}

std::function<void()> setup_prepare_bench(CLI::App& app) {
  auto options = std::make_shared<PrepareBenchOptions>();
  app.add_option("videos", options->videos,
                 "videos to prepare (e.g. the 512x512 clips of ../shared/data/real)")
      ->required();
  app.add_option("--audio_feature", options->audio_feature, "mel or deepspeech (default: mel)");
  app.add_option("--jpeg_quality", options->jpeg_quality, "our crops' JPEG quality (default: 90)");
  app.add_option("-r,--repeats", options->repeats,
                 "runs of ours; the median is reported (default: 1)");
  app.add_option("--jobs", options->jobs, "videos in parallel (default: every core)");
  app.add_option(
      "--work_dir", options->work_dir,
      "scratch folder, emptied first and removed after (default: <tmp>/dinet-bench-prepare)");
  return [options] { run_prepare_bench(*options); };
}

}  // namespace

DINET_BENCH("prepare", "dinet prepare --all frames/s and disk against the published frame dump",
            setup_prepare_bench);

}  // namespace dinet::bench
