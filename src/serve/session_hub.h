// The live sessions of the server: each an avatar speaking (dinet::LiveSession) whose frames
// go to one browser over WebRTC (dinet::WebRtcPeer), fed by that browser's microphone and by
// the API (audio chunks, WAV clips, text for espeak-ng). A session ends when its browser
// disconnects, when it is deleted, or after `idle_timeout` without a browser or a request.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dinet/live.h"
#include "dinet/webrtc.h"
#include "serve/avatar_store.h"

namespace dinet::serve {

struct SessionSettings {
  LiveModelOptions model;
  int max_sessions = 2;
  std::string stun;
  int threads = 0;  // LibTorch threads of the sessions' generators
  std::chrono::seconds idle_timeout{60};
};

class SessionHub {
 public:
  // Loads the model; a model the live sessions cannot use (not trained on the mel feature)
  // leaves the hub disabled, and every session request is answered with the reason.
  SessionHub(const SessionSettings& settings, AvatarStore& avatars);
  ~SessionHub();

  // {"id"}; ApiError 503 when max_sessions run, 404/409 for the avatar.
  nlohmann::json create(const std::string& avatar_id);
  void remove(const std::string& id);  // ApiError 404 unknown
  // Ends every session of an avatar (it is being deleted).
  void remove_avatar_sessions(const std::string& avatar_id);
  // Audio from a program: `content_type` audio/L16 or application/octet-stream is raw 16 kHz
  // mono s16le (a stream, as it arrives); anything else is a media file (WAV, mp3, ...) queued
  // whole. ApiError 400/415 when it is neither.
  void push_audio(const std::string& id, const std::string& body, const std::string& content_type,
                  const std::filesystem::path& scratch_dir);
  void say(const std::string& id, const std::string& text, const std::string& voice);
  void interrupt(const std::string& id);
  // The browser's WebRTC signalling: `send` carries messages to it (any thread); the returned
  // function takes its messages (throws dinet::Error on bad ones). One browser per session.
  std::function<void(const std::string&)> connect(const std::string& id, std::function<void(const std::string&)> send);
  // The browser's WebSocket closed: the session ends with it.
  void disconnected(const std::string& id);
  // {"sessions": [{"id", "avatar", "fps", "latency_p50_ms", ...}], "enabled", "reason"}
  nlohmann::json stats() const;
  // Ends sessions idle for longer than the timeout.
  void expire_idle();
  bool enabled() const { return model_ != nullptr; }

 private:
  struct Session;
  std::shared_ptr<Session> find(const std::string& id) const;

  SessionSettings settings_;
  AvatarStore& avatars_;
  std::unique_ptr<LiveModel> model_;
  std::string disabled_reason_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
};

}  // namespace dinet::serve
