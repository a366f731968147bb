// The avatars of the server: videos of people prepared once for live sessions
// (dinet/live.h), each a folder <jobs_dir>/avatars/<id>/ holding the upload (`source`),
// `info.json` (its name, state, error, the upload's SHA-256, when it was made) and, when
// ready, `prepared/` (frames, landmarks, loop). Preparation (face detection on every frame)
// runs on one background thread, an avatar at a time.
#pragma once

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "dinet/live.h"

namespace dinet::serve {

class AvatarStore {
 public:
  AvatarStore(std::filesystem::path dir, AvatarOptions options);
  ~AvatarStore();
  AvatarStore(const AvatarStore&) = delete;
  AvatarStore& operator=(const AvatarStore&) = delete;

  // Takes the probed video file `staged` (moved into the store) as a new avatar and queues its
  // preparation; the same video given twice (same SHA-256) is the same avatar.
  // Returns {"id", "state"}.
  nlohmann::json add(const std::filesystem::path& staged, const std::string& name);
  // [{"id", "name", "state": "preparing|ready|failed", "error", "created", "frames", "width",
  // "height", "loop"}], oldest first.
  nlohmann::json list() const;
  // A ready avatar, loaded once; ApiError 404 unknown, 409 not ready.
  std::shared_ptr<const Avatar> get(const std::string& id);
  // Removes an avatar and every file made from it; ApiError 404 unknown.
  void remove(const std::string& id);
  // Removes avatars made more than `hours` ago (not one being prepared); returns their ids.
  std::vector<std::string> remove_older_than(double hours);

 private:
  struct Entry {
    std::string id, name, state = "preparing", error, sha256;
    double created = 0;
    nlohmann::json summary;  // frames, width, height, loop, once ready
    std::shared_ptr<const Avatar> loaded;
  };
  nlohmann::json describe(const Entry& e) const;
  void save(const Entry& e) const;
  void prepare_queued();  // the worker thread

  std::filesystem::path dir_;
  AvatarOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> queue_;
  std::string preparing_;  // the id being prepared now
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace dinet::serve
