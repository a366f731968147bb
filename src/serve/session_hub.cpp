#include "serve/session_hub.h"

#include <atomic>
#include <cstring>
#include <fstream>

#include "dinet/error.h"
#include "dinet/media.h"
#include "serve/http.h"
#include "serve/job_queue.h"

namespace dinet::serve {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
int64_t steady_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

struct SessionHub::Session {
  std::string id, avatar_id;
  std::shared_ptr<const Avatar> avatar;
  std::atomic<int64_t> last_activity{steady_seconds()};
  std::atomic<bool> browser{false};
  // The frame callback runs on the live session's thread and reads `peer`; the peer's audio
  // callback runs on GStreamer's threads and feeds `live`. Ending: the peer first (no more
  // audio), then the live session (no more frames).
  std::mutex peer_mutex;
  std::unique_ptr<WebRtcPeer> peer;
  std::unique_ptr<LiveSession> live;

  void end() {
    {
      std::lock_guard<std::mutex> lock(peer_mutex);
      peer.reset();
    }
    live.reset();
  }
};

SessionHub::SessionHub(const SessionSettings& settings, AvatarStore& avatars)
    : settings_(settings), avatars_(avatars) {
  try {
    model_ = std::make_unique<LiveModel>(settings.model);
  } catch (const Error& e) {
    disabled_reason_ = e.what();
  }
}

SessionHub::~SessionHub() {
  std::map<std::string, std::shared_ptr<Session>> all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    all.swap(sessions_);
  }
  for (auto& [id, s] : all) s->end();
}

std::shared_ptr<SessionHub::Session> SessionHub::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = valid_id(id) ? sessions_.find(id) : sessions_.end();
  if (it == sessions_.end()) throw ApiError(http::status::not_found, "no live session " + id.substr(0, 64));
  it->second->last_activity = steady_seconds();
  return it->second;
}

json SessionHub::create(const std::string& avatar_id) {
  if (!model_) throw ApiError(http::status::service_unavailable, "live sessions are off: " + disabled_reason_);
  auto avatar = avatars_.get(avatar_id);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (static_cast<int>(sessions_.size()) >= settings_.max_sessions)
      throw ApiError(http::status::service_unavailable,
                     std::to_string(sessions_.size()) + " live sessions run already (--max_sessions); try again later");
  }
  auto s = std::make_shared<Session>();
  s->id = new_id();
  s->avatar_id = avatar_id;
  s->avatar = avatar;
  LiveSessionOptions options;
  options.threads = settings_.threads;
  Session* raw = s.get();
  s->live = std::make_unique<LiveSession>(
      *model_, *avatar,
      [raw](const LiveFrame& frame) {
        std::lock_guard<std::mutex> lock(raw->peer_mutex);
        if (raw->peer) raw->peer->push(frame.bgr, frame.audio, frame.index);
      },
      options);
  std::lock_guard<std::mutex> lock(mutex_);
  if (static_cast<int>(sessions_.size()) >= settings_.max_sessions) {  // another came first
    s->end();
    throw ApiError(http::status::service_unavailable, "the live sessions are full (--max_sessions); try again later");
  }
  sessions_[s->id] = s;
  return {{"id", s->id}, {"avatar", avatar_id}};
}

void SessionHub::remove(const std::string& id) {
  std::shared_ptr<Session> s = find(id);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sessions_.erase(id);
  }
  s->end();
}

void SessionHub::remove_avatar_sessions(const std::string& avatar_id) {
  std::vector<std::shared_ptr<Session>> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second->avatar_id == avatar_id) {
        ended.push_back(it->second);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : ended) s->end();
}

void SessionHub::push_audio(const std::string& id, const std::string& body, const std::string& content_type,
                            const fs::path& scratch_dir) {
  std::shared_ptr<Session> s = find(id);
  if (body.empty()) throw ApiError(http::status::bad_request, "the audio is empty");
  if (content_type.rfind("audio/L16", 0) == 0 || content_type.rfind("application/octet-stream", 0) == 0) {
    if (body.size() % 2) throw ApiError(http::status::bad_request, "raw audio must be 16-bit samples (an even byte count)");
    std::vector<int16_t> samples(body.size() / 2);
    std::memcpy(samples.data(), body.data(), body.size());
    s->live->push_audio(std::span<const int16_t>(samples));
    return;
  }
  // A media file: probed and decoded by FFmpeg, whatever its type header says.
  const fs::path file = scratch_dir / ("clip-" + new_id());
  {
    std::ofstream out(file, std::ios::binary);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
  }
  Audio clip;
  try {
    clip = load_audio(file, 16000);
  } catch (const Error&) {
    std::error_code ec;
    fs::remove(file, ec);
    throw ApiError(http::status::unsupported_media_type,
                   "the audio is not a media file with sound (send a WAV, or raw 16 kHz mono s16le as audio/L16)");
  }
  std::error_code ec;
  fs::remove(file, ec);
  s->live->push_clip(clip);
}

void SessionHub::say(const std::string& id, const std::string& text, const std::string& voice) {
  std::shared_ptr<Session> s = find(id);
  if (text.empty() || text.size() > 5000) throw ApiError(http::status::bad_request, "text must have 1 to 5000 characters");
  try {
    s->live->say(text, voice);
  } catch (const Error& e) {
    throw ApiError(http::status::bad_request, e.what());
  }
}

void SessionHub::interrupt(const std::string& id) { find(id)->live->interrupt(); }

std::function<void(const std::string&)> SessionHub::connect(const std::string& id,
                                                             std::function<void(const std::string&)> send) {
  std::shared_ptr<Session> s = find(id);
  if (s->browser.exchange(true)) throw ApiError(http::status::conflict, "live session " + id + " has a browser already");
  WebRtcOptions options;
  options.stun = settings_.stun;
  options.width = s->avatar->width;
  options.height = s->avatar->height;
  Session* raw = s.get();
  auto peer = std::make_unique<WebRtcPeer>(options, std::move(send), [raw](std::span<const int16_t> pcm) {
    raw->last_activity = steady_seconds();
    raw->live->push_audio(pcm);
  });
  WebRtcPeer* peer_raw = peer.get();
  {
    std::lock_guard<std::mutex> lock(s->peer_mutex);
    s->peer = std::move(peer);
  }
  // The session (and so the peer) outlives every message: the WebSocket ends it on close.
  return [s, peer_raw](const std::string& message) {
    s->last_activity = steady_seconds();
    peer_raw->handle_signal(message);
  };
}

void SessionHub::disconnected(const std::string& id) {
  try {
    remove(id);
  } catch (const ApiError&) {
    // Deleted through the API before its browser left.
  }
}

json SessionHub::stats() const {
  json out = {{"enabled", model_ != nullptr}, {"sessions", json::array()}};
  if (!model_) out["reason"] = disabled_reason_;
  std::vector<std::shared_ptr<Session>> all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, s] : sessions_) all.push_back(s);
  }
  for (const auto& s : all) {
    const LiveStats st = s->live->stats();
    json j = {{"id", s->id},
              {"avatar", s->avatar_id},
              {"fps", st.output_fps},
              {"generated_fps", st.generated_fps},
              {"latency_p50_ms", st.latency_p50_ms},
              {"latency_p95_ms", st.latency_p95_ms},
              {"lookahead_ms", st.lookahead_ms},
              {"frames", st.frames},
              {"frames_dropped", st.dropped},
              {"frames_skipped", st.skipped},
              {"audio_underruns", st.underruns},
              {"mode", st.mode}};
    std::lock_guard<std::mutex> lock(s->peer_mutex);
    if (s->peer) {
      const WebRtcPeer::Stats p = s->peer->stats();
      j["webrtc"] = {{"state", p.connection_state}, {"ice", p.ice_state}, {"frames_sent", p.frames_encoded},
                     {"audio_samples_received", p.audio_samples_received}};
      if (!p.error.empty()) j["webrtc"]["error"] = p.error;
    }
    out["sessions"].push_back(j);
  }
  return out;
}

void SessionHub::expire_idle() {
  std::vector<std::shared_ptr<Session>> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t now = steady_seconds();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (!it->second->browser && now - it->second->last_activity > settings_.idle_timeout.count()) {
        ended.push_back(it->second);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : ended) s->end();
}

}  // namespace dinet::serve
