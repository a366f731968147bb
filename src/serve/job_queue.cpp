#include "serve/job_queue.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/interrupt.h"
#include "dinet/process.h"
#include "serve/http.h"

extern char** environ;

namespace dinet::serve {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* state_name(JobState state) {
  switch (state) {
    case JobState::queued: return "queued";
    case JobState::running: return "running";
    case JobState::done: return "done";
    case JobState::failed: return "failed";
    case JobState::cancelled: return "cancelled";
  }
  return "failed";
}

JobState parse_state(const std::string& name) {
  for (JobState s : {JobState::queued, JobState::running, JobState::done, JobState::failed, JobState::cancelled})
    if (name == state_name(s)) return s;
  return JobState::failed;
}

// The last line a failed `dinet infer` printed that says what went wrong.
std::string failure_of(const fs::path& log, int code) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("dinet", 0) == 0 && line.find("rror") != std::string::npos) last = line;
  }
  if (!last.empty()) return last;
  return "dinet infer ended with exit code " + std::to_string(code) + " (see log.txt)";
}

// "<done> <total> <label>" from the child's progress file: detection is the first 40 %.
void read_progress(const fs::path& file, double& progress, std::string& stage) {
  std::ifstream in(file);
  long long done = 0, total = 0;
  std::string label;
  if (!(in >> done >> total)) return;
  std::getline(in >> std::ws, label);
  const double fraction = total > 0 ? std::clamp(double(done) / double(total), 0.0, 1.0) : 0.0;
  const bool detecting = label.rfind("landmarks", 0) == 0;
  progress = detecting ? 0.4 * fraction : 0.4 + 0.6 * fraction;
  stage = detecting ? "finding the face" : "dubbing";
}

}  // namespace

std::string new_id() {
  static std::mutex mutex;
  static std::random_device device;
  std::lock_guard<std::mutex> lock(mutex);
  static const char* digits = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 24; ++i) id += digits[device() % 16];
  return id;
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string with_client_name(std::string message, const fs::path& path, const std::string& name) {
  const std::string ours = path.string();
  for (size_t at; (at = message.find(ours)) != std::string::npos;) message.replace(at, ours.size(), name);
  return message;
}

bool valid_id(const std::string& id) {
  return id.size() == 24 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

json checked_job_options(const json& options) {
  if (options.is_null()) return json::object();
  if (!options.is_object()) throw ApiError(http::status::bad_request, "options must be a JSON object");
  auto one_of = [&](const std::string& key, std::initializer_list<const char*> allowed) {
    const auto& v = options[key];
    if (v.is_string())
      for (const char* a : allowed)
        if (v.get<std::string>() == a) return;
    std::string list;
    for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
    throw ApiError(http::status::bad_request, "options." + key + " must be one of " + list);
  };
  auto integer = [&](const std::string& key, int64_t lo, int64_t hi) {
    const auto& v = options[key];
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      throw ApiError(http::status::bad_request,
                     "options." + key + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  };
  for (const auto& [key, value] : options.items()) {
    if (key == "precision") one_of(key, {"auto", "fp32", "bf16", "fp16", "int8"});
    else if (key == "paste") one_of(key, {"lower_face", "feathered", "hard"});
    else if (key == "seed") integer(key, 0, INT32_MAX);
    else if (key == "crf") integer(key, 0, 51);
    else
      throw ApiError(http::status::bad_request,
                     "unknown option " + key + " (known: precision, paste, seed, crf; the mouth size is the model's)");
  }
  return options;
}

JobQueue::JobQueue(JobSettings settings) : settings_(std::move(settings)) {
  fs::create_directories(settings_.dir);
  load_existing();
  for (int i = 0; i < std::max(1, settings_.max_running); ++i) runners_.emplace_back([this] { run_next(); });
}

JobQueue::~JobQueue() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (auto& [id, job] : jobs_)
      if (job.pid > 0) ::kill(job.pid, SIGTERM);
  }
  changed_.notify_all();
  for (auto& t : runners_) t.join();
}

void JobQueue::load_existing() {
  for (const auto& entry : fs::directory_iterator(settings_.dir)) {
    const std::string id = entry.path().filename().string();
    if (!valid_id(id)) continue;
    try {
      const json j = json::parse(read_file(entry.path() / "job.json"));
      Job job;
      job.id = id;
      job.state = parse_state(j.value("state", "failed"));
      if (j.contains("error") && j["error"].is_string()) job.error = j["error"];
      job.video_name = j.value("video", "");
      job.audio_name = j.value("audio", "");
      job.created = j.value("created", 0.0);
      job.options = j.value("options", json::object());
      job.progress = job.state == JobState::done ? 1.0 : 0.0;
      if (job.state == JobState::running) {
        // The server stopped while it ran: its inputs are still here, so it runs again.
        job.state = JobState::queued;
        save(job);
      }
      jobs_[id] = std::move(job);
    } catch (const std::exception& e) {
      // A directory without a readable job.json was never a whole job (a crash while it was
      // being created): it is left alone, and says so.
      std::fprintf(stderr, "dinet serve: %s: skipped, no readable job.json (%s)\n", entry.path().c_str(), e.what());
    }
  }
}

json JobQueue::describe(const Job& job) const {
  json j = {{"id", job.id},         {"state", state_name(job.state)}, {"progress", job.progress},
            {"created", job.created}, {"options", job.options},     {"video", job.video_name},
            {"audio", job.audio_name}};
  j["error"] = job.error.empty() ? json(nullptr) : json(job.error);
  if (!job.stage.empty()) j["stage"] = job.stage;
  return j;
}

void JobQueue::save(const Job& job) const {
  json j = describe(job);
  j.erase("progress");
  j.erase("stage");
  write_file_atomic(settings_.dir / job.id / "job.json", j.dump(2) + "\n");
}

JobQueue::Job& JobQueue::find(const std::string& id) {
  auto it = valid_id(id) ? jobs_.find(id) : jobs_.end();
  if (it == jobs_.end()) throw ApiError(http::status::not_found, "no job " + id.substr(0, 64));
  return it->second;
}

const JobQueue::Job& JobQueue::find(const std::string& id) const {
  return const_cast<JobQueue*>(this)->find(id);
}

std::string JobQueue::submit(const fs::path& staging, const json& options, const std::string& video_name,
                             const std::string& audio_name) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A new job runs at once while fewer than max_running run; beyond that it waits.
  const auto busy = std::count_if(jobs_.begin(), jobs_.end(), [](const auto& p) {
    return p.second.state == JobState::queued || p.second.state == JobState::running;
  });
  if (busy >= settings_.max_running + settings_.max_queued)
    throw ApiError(http::status::service_unavailable,
                   "the server is busy: " + std::to_string(busy) + " jobs are running or waiting (--max_running, "
                   "--max_queued); try again later");
  Job job;
  job.id = new_id();
  job.created = unix_seconds();
  job.options = options;
  job.video_name = video_name;
  job.audio_name = audio_name;
  fs::rename(staging, settings_.dir / job.id);
  save(job);
  const std::string id = job.id;
  jobs_[id] = std::move(job);
  changed_.notify_all();
  return id;
}

json JobQueue::status(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return describe(find(id));
}

json JobQueue::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  json out = json::array();
  for (const auto& [id, job] : jobs_) out.push_back(describe(job));
  return out;
}

fs::path JobQueue::result(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Job& job = find(id);
  if (job.state != JobState::done)
    throw ApiError(http::status::conflict, "job " + id + " is " + state_name(job.state) + ", not done");
  return settings_.dir / id / "result.mp4";
}

std::string JobQueue::cancel_or_delete(const std::string& id) {
  std::unique_lock<std::mutex> lock(mutex_);
  Job& job = find(id);
  if (job.state == JobState::queued || job.state == JobState::running) {
    job.cancel = true;
    if (job.state == JobState::queued) {
      job.state = JobState::cancelled;
      save(job);
    } else if (job.pid > 0) {
      ::kill(job.pid, SIGTERM);  // the runner sees it end and records the cancel
    }
    changed_.notify_all();
    return "cancelled";
  }
  std::error_code ec;
  fs::remove_all(settings_.dir / id, ec);
  jobs_.erase(id);
  changed_.notify_all();
  return "deleted";
}

json JobQueue::wait_for_change(const std::string& id, const json& last, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return json{{"id", id}, {"state", "deleted"}};
    json now = describe(it->second);
    if (now != last || changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      it = jobs_.find(id);
      return it == jobs_.end() ? json{{"id", id}, {"state", "deleted"}} : describe(it->second);
    }
  }
}

void JobQueue::remove_older_than(double hours) {
  if (hours <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const double cutoff = unix_seconds() - hours * 3600;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second.created < cutoff && it->second.state != JobState::running) {
      std::error_code ec;
      fs::remove_all(settings_.dir / it->first, ec);
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
  changed_.notify_all();
}

std::vector<std::string> JobQueue::command_of(const Job& job) const {
  const fs::path dir = settings_.dir / job.id;
  std::vector<std::string> args = {"dinet", "infer",
                                   "--source_video_path", (dir / "video").string(),
                                   "--driving_audio_path", (dir / "audio").string(),
                                   "--res_video_dir", (dir / "out").string(),
                                   "--model_path", settings_.model_path.string(),
                                   "--device", settings_.device,
                                   "--precision", job.options.value("precision", settings_.precision)};
  if (settings_.threads > 0) {
    args.insert(args.end(), {"--threads", std::to_string(settings_.threads)});
  } else {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    args.insert(args.end(), {"--threads", std::to_string(std::max(1, cores / std::max(1, settings_.max_running)))});
  }
  if (!settings_.audio_feature.empty()) args.insert(args.end(), {"--audio_feature", settings_.audio_feature});
  if (!settings_.deepspeech_model.empty())
    args.insert(args.end(), {"--deepspeech_model", settings_.deepspeech_model.string()});
  if (job.options.contains("paste")) args.insert(args.end(), {"--paste", job.options["paste"].get<std::string>()});
  if (job.options.contains("seed")) args.insert(args.end(), {"--seed", std::to_string(job.options["seed"].get<int64_t>())});
  if (job.options.contains("crf")) args.insert(args.end(), {"--crf", std::to_string(job.options["crf"].get<int64_t>())});
  return args;
}

void JobQueue::run_next() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (interrupt_signal() != 0) {  // the server is about to stop: start nothing new
      changed_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    Job* next = nullptr;
    for (auto& [id, job] : jobs_)
      if (job.state == JobState::queued && (!next || job.created < next->created)) next = &job;
    if (!next) {
      changed_.wait(lock);
      continue;
    }
    run_job(*next, lock);
  }
}

// Called with the lock held; releases it while the child runs. `job` stays valid: a running
// job is never erased (cancel_or_delete only cancels it).
void JobQueue::run_job(Job& job, std::unique_lock<std::mutex>& lock) {
  const fs::path dir = settings_.dir / job.id;
  job.state = JobState::running;
  job.progress = 0;
  job.stage = "starting";
  job.error.clear();
  save(job);
  changed_.notify_all();

  const fs::path progress_file = dir / "progress";
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind("DINET_PROGRESS_FILE=", 0) != 0) env.emplace_back(*e);
  env.push_back("DINET_PROGRESS_FILE=" + progress_file.string());
  const int log = ::open((dir / "log.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ProcessSpec spec;
  spec.program = settings_.dinet_program.string();
  spec.args = command_of(job);
  spec.env = env;
  spec.out_fd = spec.err_fd = log;
  spec.die_with_parent = true;
  int code = -1;
  try {
    job.pid = start_process(spec);
  } catch (const std::exception& e) {
    job.error = e.what();
  }
  if (log >= 0) ::close(log);
  if (job.pid > 0) {
    for (;;) {
      lock.unlock();
      int status = 0;
      const pid_t r = ::waitpid(job.pid, &status, WNOHANG);
      double progress = job.progress;
      std::string stage = job.stage;
      read_progress(progress_file, progress, stage);
      lock.lock();
      if (r == job.pid) {
        code = exit_code(status);
        break;
      }
      if (progress != job.progress || stage != job.stage) {
        job.progress = progress;
        job.stage = stage;
        changed_.notify_all();
      }
      changed_.wait_for(lock, std::chrono::milliseconds(200));
    }
    job.pid = -1;
  }
  std::error_code ec;
  fs::remove(progress_file, ec);
  // The server is stopping (Ctrl-C in a terminal reaches the child too): queued again at the
  // next start, not failed.
  if ((stopping_ || interrupt_signal() != 0) && !job.cancel) {
    job.state = JobState::queued;
  } else if (job.cancel) {
    job.state = JobState::cancelled;
  } else if (code == 0 && fs::exists(dir / "out" / "video_facial_dubbing_add_audio.mp4")) {
    fs::rename(dir / "out" / "video_facial_dubbing_add_audio.mp4", dir / "result.mp4");
    fs::remove_all(dir / "out", ec);
    job.state = JobState::done;
    job.progress = 1;
  } else {
    job.state = JobState::failed;
    if (job.error.empty()) job.error = failure_of(dir / "log.txt", code);
    job.error = with_client_name(job.error, dir / "video", job.video_name);
    job.error = with_client_name(job.error, dir / "audio", job.audio_name);
    job.error = with_client_name(job.error, dir / "out", "the result");
    if (job.error.rfind("dinet: error: ", 0) == 0) job.error.erase(0, 14);
  }
  job.stage.clear();
  save(job);
  changed_.notify_all();
}

}  // namespace dinet::serve
