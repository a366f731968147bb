#include "serve/avatar_store.h"

#include <algorithm>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/media.h"
#include "serve/http.h"
#include "serve/job_queue.h"

namespace dinet::serve {
namespace fs = std::filesystem;
using nlohmann::json;

AvatarStore::AvatarStore(fs::path dir, AvatarOptions options) : dir_(std::move(dir)), options_(std::move(options)) {
  fs::create_directories(dir_);
  for (const auto& folder : fs::directory_iterator(dir_)) {
    const std::string id = folder.path().filename().string();
    if (!valid_id(id)) continue;
    try {
      const json j = json::parse(read_file(folder.path() / "info.json"));
      Entry e;
      e.id = id;
      e.name = j.value("name", "");
      e.state = j.value("state", "failed");
      e.error = j.value("error", "");
      e.sha256 = j.value("sha256", "");
      e.created = j.value("created", 0.0);
      e.summary = j.value("summary", json::object());
      if (e.state == "preparing") {  // the server stopped while it was prepared: again
        std::error_code ec;
        fs::remove_all(folder.path() / "prepared", ec);
        queue_.push_back(id);
      }
      entries_[id] = std::move(e);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dinet serve: %s: skipped, no readable info.json (%s)\n", folder.path().c_str(), e.what());
    }
  }
  worker_ = std::thread([this] { prepare_queued(); });
}

AvatarStore::~AvatarStore() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  worker_.join();
}

json AvatarStore::describe(const Entry& e) const {
  json j = {{"id", e.id}, {"name", e.name}, {"state", e.state}, {"created", e.created}};
  j["error"] = e.error.empty() ? json(nullptr) : json(e.error);
  for (const auto& [k, v] : e.summary.items()) j[k] = v;
  return j;
}

void AvatarStore::save(const Entry& e) const {
  json j = {{"name", e.name}, {"state", e.state}, {"error", e.error}, {"sha256", e.sha256},
            {"created", e.created}, {"summary", e.summary}};
  write_file_atomic(dir_ / e.id / "info.json", j.dump(2) + "\n");
}

json AvatarStore::add(const fs::path& staged, const std::string& name) {
  const std::string sha = file_sha256(staged);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [id, e] : entries_)
    if (e.sha256 == sha && e.state != "failed") {
      std::error_code ec;
      fs::remove(staged, ec);
      return {{"id", id}, {"state", e.state}};
    }
  Entry e;
  e.id = new_id();
  e.name = name;
  e.sha256 = sha;
  e.created = unix_seconds();
  fs::create_directories(dir_ / e.id);
  fs::rename(staged, dir_ / e.id / "source");
  save(e);
  queue_.push_back(e.id);
  const json answer = {{"id", e.id}, {"state", e.state}};
  entries_[e.id] = std::move(e);
  work_.notify_all();
  return answer;
}

json AvatarStore::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<const Entry*> sorted;
  for (const auto& [id, e] : entries_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->created < b->created; });
  json out = json::array();
  for (const Entry* e : sorted) out.push_back(describe(*e));
  return out;
}

std::shared_ptr<const Avatar> AvatarStore::get(const std::string& id) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = valid_id(id) ? entries_.find(id) : entries_.end();
  if (it == entries_.end()) throw ApiError(http::status::not_found, "no avatar " + id.substr(0, 64));
  if (it->second.state != "ready")
    throw ApiError(http::status::conflict, "avatar " + id + " is " + it->second.state +
                                               (it->second.error.empty() ? "" : ": " + it->second.error));
  if (!it->second.loaded) it->second.loaded = std::make_shared<const Avatar>(load_avatar(dir_ / id / "prepared"));
  return it->second.loaded;
}

void AvatarStore::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = valid_id(id) ? entries_.find(id) : entries_.end();
  if (it == entries_.end()) throw ApiError(http::status::not_found, "no avatar " + id.substr(0, 64));
  if (preparing_ == id) throw ApiError(http::status::conflict, "avatar " + id + " is being prepared; try again soon");
  queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
  std::error_code ec;
  fs::remove_all(dir_ / id, ec);
  entries_.erase(it);
}

std::vector<std::string> AvatarStore::remove_older_than(double hours) {
  std::vector<std::string> removed;
  if (hours <= 0) return removed;
  std::lock_guard<std::mutex> lock(mutex_);
  const double cutoff = unix_seconds() - hours * 3600;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.created < cutoff && preparing_ != it->first) {
      queue_.erase(std::remove(queue_.begin(), queue_.end(), it->first), queue_.end());
      std::error_code ec;
      fs::remove_all(dir_ / it->first, ec);
      removed.push_back(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return removed;
}

void AvatarStore::prepare_queued() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const std::string id = queue_.front();
    queue_.pop_front();
    preparing_ = id;
    lock.unlock();
    std::string error;
    json summary;
    try {
      prepare_avatar(dir_ / id / "source", dir_ / id / "prepared", options_);
      const Avatar avatar = load_avatar(dir_ / id / "prepared");
      summary = {{"frames", avatar.frames()}, {"width", avatar.width}, {"height", avatar.height},
                 {"loop", avatar.loop.kind}};
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    preparing_.clear();
    auto it = entries_.find(id);
    if (it == entries_.end()) continue;
    Entry& e = it->second;
    e.state = error.empty() ? "ready" : "failed";
    e.error = with_client_name(error, dir_ / id / "source", e.name);
    e.summary = summary;
    save(e);
  }
}

}  // namespace dinet::serve
