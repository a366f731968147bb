// Markers, cleanup of interrupted work, the parallel runner and the small shared helpers
// of `dinet prepare`.
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/interrupt.h"
#include "prepare_steps.h"

namespace dinet::prepare {

StepMarker::StepMarker(const fs::path& output_dir, std::string step) : step_(std::move(step)) {
  // `a/b/` has an empty filename; the folder's own name is what the marker folder is named after.
  const fs::path dir = output_dir.lexically_normal();
  const fs::path folder = dir.has_filename() ? dir : dir.parent_path();
  std::string name = folder.filename().string();
  name.insert(0, 1, '.');
  dir_ = folder.parent_path() / (name + ".done");
}

fs::path StepMarker::path(const std::string& video) const {
  return dir_ / (video + "." + step_ + ".json");
}

bool StepMarker::exists(const std::string& video) const {
  std::error_code ec;
  return fs::is_regular_file(path(video), ec);
}

bool StepMarker::matches(const std::string& video, const nlohmann::json& settings) const {
  if (!exists(video)) return false;
  try {
    return nlohmann::json::parse(read_file(path(video))).value("settings", nlohmann::json()) ==
           settings;
  } catch (const std::exception&) {
    return false;  // an unreadable marker means "not done": the step is redone
  }
}

fs::path StepMarker::started_path(const std::string& video) const {
  return dir_ / (video + "." + step_ + ".started");
}

void StepMarker::begin(const std::string& video) const {
  remove(video);
  write_file_atomic(started_path(video), "");
}

bool StepMarker::started(const std::string& video) const {
  std::error_code ec;
  return fs::exists(started_path(video), ec);
}

void StepMarker::finish(const std::string& video, const nlohmann::json& settings) const {
  nlohmann::json marker{{"step", step_}, {"video", video}, {"settings", settings}};
  write_file_atomic(path(video), marker.dump(1) + "\n");
  std::error_code ec;
  fs::remove(started_path(video), ec);
}

void StepMarker::remove(const std::string& video) const {
  std::error_code ec;
  fs::remove(path(video), ec);
  fs::remove(started_path(video), ec);
}

Plan plan_step(const StepMarker& marker, const std::string& video, const nlohmann::json& settings,
               const fs::path& output, bool force) {
  std::error_code ec;
  const bool present =
      fs::is_directory(output, ec) ? !fs::is_empty(output, ec) : fs::exists(output, ec);
  if (!present) return Plan::run;
  const bool ours = marker.exists(video) || marker.started(video);
  if (!ours) return Plan::skip_foreign;
  if (!force && marker.matches(video, settings)) return Plan::skip_done;
  return Plan::run;
}

StepOutcome skipped(const std::string& step, const std::string& video, Plan plan,
                    const fs::path& output) {
  StepOutcome outcome;
  outcome.step = step;
  outcome.video = video;
  outcome.status = StepStatus::skipped;
  outcome.reason = plan == Plan::skip_done
                       ? "already done"
                       : "kept " + output.string() + " (not written by dinet prepare)";
  return outcome;
}

void clean_partial(const fs::path& dir, const std::string& stem, bool whole_folder) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  if (whole_folder) {
    fs::remove_all(dir / stem, ec);
    if (ec) throw Error((dir / stem).string(), "cannot remove unfinished output: " + ec.message());
  }
  // AtomicFile names its temporaries "<stem>.tmp-<pid>-<n><ext>"; a killed run leaves them.
  const std::string prefix = stem + ".tmp-";
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().rfind(prefix, 0) == 0) fs::remove(entry.path(), ec);
}

void RunContext::check_cancel() const {
  if (params.cancel && params.cancel->load()) throw Interrupted();
}

void RunContext::add_frames(int64_t n) {
  frames += n;
  if (progress) progress->advance(n);
}

const LandmarkModel& RunContext::landmark_model() {
  std::call_once(model_once_, [this] { model_ = std::make_unique<LandmarkModel>(); });
  return *model_;
}

void RunContext::video_finished() {
  const int done = ++videos_done;
  if (progress)
    progress->set_fields("videos " + std::to_string(done) + "/" + std::to_string(videos_total));
}

std::vector<fs::path> list_videos(const fs::path& dir) {
  static const std::vector<std::string> extensions{".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"};
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    const std::string name = entry.path().filename().string();
    // Our own AtomicFile temporaries are never inputs.
    if (name.find(".tmp-") != std::string::npos || name.front() == '.') continue;
    if (std::find(extensions.begin(), extensions.end(), ext) != extensions.end())
      files.push_back(entry.path());
  }
  if (ec) throw Error(dir.string(), "cannot list videos: " + ec.message());
  std::sort(files.begin(), files.end());
  std::map<std::string, fs::path> by_name;
  for (const auto& file : files)
    if (auto [it, fresh] = by_name.emplace(video_name(file), file); !fresh)
      throw Error(file.string(), "has the name of " + it->second.filename().string() +
                                     ", and they would share every output: rename one");
  return files;
}

std::string video_name(const fs::path& file) { return file.stem().string(); }

void run_parallel(size_t count, int jobs, const std::function<void(size_t)>& task) {
  if (jobs <= 0) jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  jobs = static_cast<int>(std::min<size_t>(static_cast<size_t>(jobs), std::max<size_t>(count, 1)));
  std::atomic<size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (size_t i; (i = next++) < count;) {
      try {
        task(i);
      } catch (...) {
        // Tasks record their own failures; what reaches here (Ctrl-C) stops the others too.
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        next = count;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int j = 1; j < jobs; ++j) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

StepOutcome guarded(const std::string& step, const std::string& video,
                    const std::function<StepOutcome()>& body) {
  try {
    return body();
  } catch (const Interrupted&) {
    throw;
  } catch (const dinet::Interrupted&) {
    // The library's own check (the DeepSpeech network between chunks) saw the same Ctrl-C.
    throw Interrupted();
  } catch (const std::exception& e) {
    StepOutcome failed;
    failed.step = step;
    failed.video = video;
    failed.status = StepStatus::failed;
    std::string reason = e.what();
    failed.reason = reason.substr(0, reason.find('\n'));  // LibTorch appends backtraces
    return failed;
  }
}

fs::path feature_path(const PrepareParams& params, const std::string& video) {
  const bool text = params.audio_feature == "deepspeech";
  return params.deep_speech_dir / (video + "_" + params.audio_feature + (text ? ".txt" : ".npy"));
}

uint64_t disk_usage(const fs::path& path) {
  std::error_code ec;
  auto allocated = [](const fs::path& p) -> uint64_t {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
  };
  if (fs::is_regular_file(path, ec)) return allocated(path);
  uint64_t total = 0;
  if (!fs::is_directory(path, ec)) return 0;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file(ec)) total += allocated(it->path());
  return total;
}

}  // namespace dinet::prepare
