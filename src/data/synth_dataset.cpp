// `dinet synth`: many synthetic clips in parallel, in the published folder layout.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/landmarks.h"
#include "dinet/media.h"
#include "dinet/progress.h"
#include "dinet/synth.h"
#include "synth_clip.h"

namespace dinet {
namespace fs = std::filesystem;

fs::path landmark_dir_for(const fs::path& video_dir) {
  fs::path dir = video_dir.lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  return dir.parent_path() / (dir.filename().string() + "_landmark_openface");
}

std::string synth_clip_name(int index) {
  char name[32];
  std::snprintf(name, sizeof name, "synth_%03d", index);
  return name;
}

namespace {

struct Job {
  int index;
  fs::path video, landmarks;
};

void validate(const SynthOptions& o) {
  if (o.out_dir.empty()) throw Error("synth: --out is required");
  if (o.videos < 1) throw Error("synth: --videos must be at least 1");
  if (!(o.seconds > 0) || o.seconds > 24 * 3600)
    throw Error("synth: --seconds must be above 0 (and at most a day)");
  if (o.width < 64 || o.height < 64 || o.width % 2 || o.height % 2)
    throw Error("synth: --size " + std::to_string(o.width) + "x" + std::to_string(o.height) +
                ": width and height must be even and at least 64");
}

void create_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir.string(), "cannot create directory: " + ec.message());
}

// The landmarks first, the video last: the video's presence marks a complete clip.
// False when cancelled: the unfinished video is discarded and its landmarks removed.
bool make_clip(const Job& job, const SynthOptions& o, int frames, Progress* progress) {
  synth::SynthClip clip({o.width, o.height}, frames, synth::mix_seed(o.seed, job.index));
  write_openface_csv(job.landmarks, clip.landmarks(), synth::kFps);
  VideoWriterOptions options;
  options.fps = synth::kFps;
  VideoWriter writer(job.video, o.width, o.height, options, &clip.audio());
  cv::Mat frame;
  for (int i = 0; i < frames; ++i) {
    if (o.cancel && *o.cancel) {
      std::error_code ec;
      fs::remove(job.landmarks, ec);
      return false;
    }
    clip.render(i, frame);
    writer.write(frame);
    if (progress) progress->advance();
  }
  writer.finish();
  return true;
}

}  // namespace

SynthResult synthesize_clips(const SynthOptions& o) {
  validate(o);
  const int frames = std::max(1, static_cast<int>(std::lround(o.seconds * synth::kFps)));
  const fs::path video_dir = o.out_dir, landmark_dir = landmark_dir_for(o.out_dir);
  create_dir(video_dir);
  create_dir(landmark_dir);
  // A killed run's half-written clips (its videos' and CSVs' temporaries).
  remove_dead_temporaries(video_dir);
  remove_dead_temporaries(landmark_dir);

  SynthResult result;
  std::vector<Job> jobs;
  std::vector<std::string> failures;
  for (int i = 0; i < o.videos; ++i) {
    const std::string name = synth_clip_name(i);
    Job job{i, video_dir / (name + ".mp4"), landmark_dir / (name + ".csv")};
    const bool has_video = fs::exists(job.video), has_landmarks = fs::exists(job.landmarks);
    if (has_video && has_landmarks)
      result.skipped.push_back(job.video);
    else if (has_video)
      failures.push_back(job.video.string() + ": exists without its landmarks " + job.landmarks.string() +
                         " (not overwritten; delete the video to make the clip again)");
    else
      jobs.push_back(std::move(job));
  }

  std::optional<Progress> progress;
  if (o.show_progress && !jobs.empty())
    progress.emplace("synth", static_cast<int64_t>(jobs.size()) * frames, "frames");
  std::atomic<size_t> next{0};
  std::mutex mutex;
  auto worker = [&] {
    for (size_t k; (k = next++) < jobs.size();) {
      if (o.cancel && *o.cancel) {
        std::lock_guard<std::mutex> lock(mutex);
        result.interrupted = true;
        break;
      }
      try {
        const bool done = make_clip(jobs[k], o, frames, progress ? &*progress : nullptr);
        std::lock_guard<std::mutex> lock(mutex);
        if (done)
          result.written.push_back(jobs[k].video);
        else
          result.interrupted = true;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        failures.push_back(e.what());
      }
    }
  };
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::min<int>(o.threads > 0 ? o.threads : cores, static_cast<int>(jobs.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (progress) progress->finish();

  std::sort(result.written.begin(), result.written.end());
  if (!failures.empty()) {
    std::sort(failures.begin(), failures.end());
    throw Error(failures.front() + (failures.size() > 1 ? " (and " + std::to_string(failures.size() - 1) +
                                                              " more failed clips)"
                                                        : ""));
  }
  return result;
}

}  // namespace dinet
