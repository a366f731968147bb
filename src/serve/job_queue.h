// Offline dubbing jobs: uploaded files dubbed by `dinet infer` in a child process each (a
// crash or a cancel ends the child, never the server), at most `max_running` at once.
// Every job is a directory under <jobs_dir>/jobs/<id>/ with job.json (its state, written
// atomically at each change), its inputs, log.txt and, when done, result.mp4; the queue is
// read back from those at start, so results survive a restart and a job that was running
// is queued again.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dinet::serve {

struct JobSettings {
  std::filesystem::path dinet_program = "/proc/self/exe";
  std::filesystem::path dir;  // <jobs_dir>/jobs
  std::filesystem::path model_path;
  std::string audio_feature;
  std::filesystem::path deepspeech_model;
  std::string precision = "auto";
  std::string device = "cpu";
  int threads = 0;
  int max_running = 1, max_queued = 8;
};

enum class JobState { queued, running, done, failed, cancelled };

// A random id of 24 hex digits; ids from clients are checked against this shape, so one can
// never name a path.
std::string new_id();
bool valid_id(const std::string& id);
// Seconds since the epoch: when jobs and avatars were made (for --retention_hours).
double unix_seconds();
// `message` with every mention of `path` (a file of ours) replaced by `name` (what the client
// called it): clients know their files by their names and have no business with our paths.
std::string with_client_name(std::string message, const std::filesystem::path& path, const std::string& name);

// A job's options from the client: {"precision": "int8", "paste": "feathered", "seed": 3,
// "crf": 20}; anything else is an ApiError 400.
nlohmann::json checked_job_options(const nlohmann::json& options);

class JobQueue {
 public:
  explicit JobQueue(JobSettings settings);
  ~JobQueue();  // stops the running children (they are queued again at the next start)
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Takes `staging` (a directory holding `video` and `audio`, already probed) as a new job;
  // ApiError 503 when max_queued jobs wait already.
  std::string submit(const std::filesystem::path& staging, const nlohmann::json& options,
                     const std::string& video_name, const std::string& audio_name);
  // {"id", "state", "progress" 0..1, "stage", "error", "created", "options", "video", "audio"};
  // ApiError 404 for an unknown id.
  nlohmann::json status(const std::string& id) const;
  nlohmann::json list() const;
  // The result of a done job; 404 unknown, 409 not done.
  std::filesystem::path result(const std::string& id) const;
  // Cancels a queued or running job; deletes a finished one with its files. Returns the
  // state it left ("cancelled" or "deleted").
  std::string cancel_or_delete(const std::string& id);
  // Waits until the job's status differs from `last` (or `timeout`), then returns it.
  nlohmann::json wait_for_change(const std::string& id, const nlohmann::json& last,
                                 std::chrono::milliseconds timeout) const;
  // Removes jobs (not running) created more than `hours` ago, with their files.
  void remove_older_than(double hours);

 private:
  struct Job {
    std::string id;
    JobState state = JobState::queued;
    std::string error, stage, video_name, audio_name;
    double progress = 0;
    double created = 0;  // seconds since the epoch
    nlohmann::json options;
    bool cancel = false;
    pid_t pid = -1;
  };
  nlohmann::json describe(const Job& job) const;
  void save(const Job& job) const;  // job.json, atomically
  void load_existing();
  void run_next();  // a runner thread's loop
  void run_job(Job& job, std::unique_lock<std::mutex>& lock);
  std::vector<std::string> command_of(const Job& job) const;
  Job& find(const std::string& id);
  const Job& find(const std::string& id) const;

  JobSettings settings_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, Job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> runners_;
};

}  // namespace dinet::serve
