// The server: an accept loop, one thread per connection (synchronous Beast, easy to follow;
// a few dozen clients at most), and the routes of docs/serve.md.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/interrupt.h"
#include "dinet/media.h"
#include "dinet/serve.h"
#include "serve/avatar_store.h"
#include "serve/http.h"
#include "serve/job_queue.h"
#include "serve/multipart.h"
#include "serve/session_hub.h"
#include "serve/timed_socket.h"
#include "serve/web_files.h"

namespace dinet {
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using nlohmann::json;
using serve::ApiError;
using serve::Request;
using serve::Response;
namespace http = serve::http;

namespace {

constexpr int kMaxConnections = 64;

bool loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Compares without an early exit, so the time taken says nothing about the token.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// "/api/jobs/ID/result" -> {"api", "jobs", "ID", "result"}.
std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    const size_t slash = path.find('/');
    if (!path.empty()) out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

// Moves the part named `name` into `file`; ApiError 400 when the form lacks it.
std::string store_part(const std::vector<serve::FormPart>& parts, const std::string& name, const fs::path& file) {
  for (const auto& part : parts)
    if (part.name == name) {
      if (part.body.empty()) throw ApiError(http::status::bad_request, "the " + name + " file is empty");
      std::ofstream out(file, std::ios::binary);
      out.write(part.body.data(), static_cast<std::streamsize>(part.body.size()));
      if (!out) throw Error(file.string(), "cannot write the upload (disk full?)");
      return part.filename.empty() ? name : part.filename.substr(0, 200);
    }
  throw ApiError(http::status::bad_request, "the form has no " + name + " file");
}

// Probes an upload as media; ApiError 415 naming the client's file when it is not what it must be.
void require_media(const fs::path& file, const std::string& shown_name, bool need_video) {
  MediaStreams streams;
  try {
    streams = probe_media(file);
  } catch (const Error&) {
    throw ApiError(http::status::unsupported_media_type, shown_name + ": not a video or audio file");
  }
  if (need_video && !streams.video)
    throw ApiError(http::status::unsupported_media_type, shown_name + ": has no video stream");
  if (!need_video && !streams.audio)
    throw ApiError(http::status::unsupported_media_type, shown_name + ": has no audio stream");
}

}  // namespace

struct Server::Impl {
  ServeOptions options;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::unique_ptr<serve::JobQueue> jobs;
  std::unique_ptr<serve::AvatarStore> avatars;
  std::unique_ptr<serve::SessionHub> sessions;  // after avatars: its sessions hold avatars
  std::atomic<bool> stop{false};
  std::mutex sockets_mutex;
  std::condition_variable connections_done;
  std::set<int> sockets;  // open connections, shut down at stop

  // One connection: requests in turn until the client closes, times out, or says close.
  void serve_connection(tcp::socket socket);
  // Closes a connection's socket and forgets it, both under the lock: the accept loop may be
  // given the same descriptor number the moment it is closed, and must not find it listed.
  void close_connection(tcp::socket& socket, int fd);
  bool authorised(const Request& request) const;
  // The reply to a complete request (everything but files and event streams).
  Response handle(const Request& request);
  Response submit_job(const Request& request);
  Response add_avatar(const Request& request);
  Response live_route(const Request& request, const std::vector<std::string>& parts);
  // A browser's WebRTC signalling for one live session, until it closes (the session ends).
  void serve_websocket(tcp::socket socket, const Request& upgrade, const std::string& session_id, int fd);
  // Removes old jobs and avatars (and the sessions of those avatars), idle sessions.
  void housekeeping();
  void stream_events(serve::TimedSocket& stream, const std::string& id, unsigned version);
  void send_file(serve::TimedSocket& stream, const fs::path& file, const std::string& type, unsigned version);
};

Server::Server(const ServeOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = options;
  if (!loopback(options.host) && options.token.empty())
    throw Error("--host " + options.host +
                ": the server would be open to the network without a password; give --token (docs/serve.md)");
  if (options.model_path.empty()) throw Error("give --model_path, the generator that jobs dub with");
  require_file(options.model_path, "model");
  if (options.max_running < 1 || options.max_queued < 0 || options.max_upload_mb < 1)
    throw Error("--max_running and --max_upload_mb must be at least 1, --max_queued at least 0");
  fs::create_directories(options.jobs_dir / "tmp");
  for (const auto& entry : fs::directory_iterator(options.jobs_dir / "tmp"))  // an earlier run's partial uploads
    fs::remove_all(entry.path());

  serve::JobSettings settings;
  settings.dir = options.jobs_dir / "jobs";
  settings.model_path = fs::absolute(options.model_path);
  settings.audio_feature = options.audio_feature;
  settings.deepspeech_model = options.deepspeech_model;
  settings.precision = options.precision;
  settings.device = options.device;
  settings.threads = options.threads;
  settings.max_running = options.max_running;
  settings.max_queued = options.max_queued;
  s.jobs = std::make_unique<serve::JobQueue>(settings);
  AvatarOptions avatar_options;
  s.avatars = std::make_unique<serve::AvatarStore>(options.jobs_dir / "avatars", avatar_options);
  serve::SessionSettings live;
  live.model.model_path = options.model_path;
  live.model.device = options.device;
  live.model.precision =
      options.precision == "auto" ? automatic_precision(options.device) : parse_precision(options.precision);
  live.max_sessions = options.max_sessions;
  live.stun = options.stun;
  live.threads = options.threads;
  s.sessions = std::make_unique<serve::SessionHub>(live, *s.avatars);
  s.housekeeping();
  for (const fs::path& video : options.avatars) {
    require_media(video, video.string(), true);
    const fs::path staged = options.jobs_dir / "tmp" / serve::new_id();
    fs::copy_file(video, staged);
    s.avatars->add(staged, video.filename().string());
  }

  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.host == "localhost" ? "127.0.0.1" : options.host, ec);
  if (ec) throw Error("--host " + options.host + ": not an IP address");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw Error(options.host + ":" + std::to_string(options.port), "cannot listen: " + ec.message());
  s.acceptor.non_blocking(true);
}

Server::~Server() { stop(); }

int Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::stop() { impl_->stop = true; }

void Server::run() {
  Impl& s = *impl_;
  auto last_cleanup = std::chrono::steady_clock::now();
  while (!s.stop && interrupt_signal() == 0) {
    pollfd fd{s.acceptor.native_handle(), POLLIN, 0};
    ::poll(&fd, 1, 200);
    if (std::chrono::steady_clock::now() - last_cleanup > std::chrono::seconds(5)) {
      s.housekeeping();
      last_cleanup = std::chrono::steady_clock::now();
    }
    boost::system::error_code ec;
    tcp::socket socket(s.io);
    s.acceptor.accept(socket, ec);
    if (ec) continue;  // would block, or a client that left at once
    std::unique_lock<std::mutex> lock(s.sockets_mutex);
    // A connection whose client has just left counts until its thread sees it (on a busy
    // machine, tens of them): a moment's wait tells those from a real crowd.
    if (!s.connections_done.wait_for(lock, std::chrono::seconds(1),
                                     [&] { return static_cast<int>(s.sockets.size()) < kMaxConnections; })) {
      const Response busy = serve::error_response(http::status::service_unavailable, "too many connections");
      http::write(socket, busy, ec);
      continue;
    }
    s.sockets.insert(socket.native_handle());
    std::thread([&s, socket = std::move(socket)]() mutable { s.serve_connection(std::move(socket)); }).detach();
  }
  // Stop: no new connections; the open ones are woken and end; jobs stop with the queue.
  std::unique_lock<std::mutex> lock(s.sockets_mutex);
  for (int fd : s.sockets) ::shutdown(fd, SHUT_RDWR);
  s.connections_done.wait(lock, [&] { return s.sockets.empty(); });
  lock.unlock();
  s.sessions.reset();
  s.avatars.reset();
  s.jobs.reset();
}

void Server::Impl::housekeeping() {
  jobs->remove_older_than(options.retention_hours);
  for (const std::string& id : avatars->remove_older_than(options.retention_hours)) sessions->remove_avatar_sessions(id);
  sessions->expire_idle();
}

void Server::Impl::serve_connection(tcp::socket socket) {
  const int fd = socket.native_handle();
  serve::TimedSocket stream(socket, std::chrono::seconds(options.client_timeout_s));
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  const uint64_t upload_limit = static_cast<uint64_t>(options.max_upload_mb) << 20;
  auto reply_and_close = [&](http::status status, const std::string& message, unsigned version) {
    Response r = serve::error_response(status, message, version);
    r.keep_alive(false);
    http::write(stream, r, ec);
  };
  const std::string too_slow =
      "the request did not arrive within --client_timeout " + std::to_string(options.client_timeout_s) + " s";
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    // No limit while the header is read (Beast would refuse a large Content-Length without a
    // word); it is checked below, answered with 413, and set for the body.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    stream.start_deadline();  // the whole header within the timeout, however it trickles in
    http::read_header(stream, buffer, parser, ec);
    stream.end_deadline();
    if (ec) {
      // A client that left, or an idle connection, gets no answer; one that sent something
      // that is not a request is told so before the connection closes.
      if (ec == asio::error::timed_out && parser.got_some())
        reply_and_close(http::status::request_timeout, too_slow, 11);
      else if (ec == http::error::header_limit)
        reply_and_close(http::status::request_header_fields_too_large, "the request's header is over 16 KiB", 11);
      else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message)
        reply_and_close(http::status::bad_request, "not an HTTP request (" + ec.message() + ")", 11);
      break;
    }
    const auto& header = parser.get();
    const unsigned version = header.version();
    if (parser.content_length() && *parser.content_length() > upload_limit + (1 << 20)) {
      reply_and_close(http::status::payload_too_large,
                      "the upload is larger than --max_upload_mb " + std::to_string(options.max_upload_mb) + " MB",
                      version);
      break;
    }
    parser.body_limit(upload_limit + (1 << 20));  // the limit is on the files; the form's framing is extra
    if (beast::websocket::is_upgrade(header)) {
      const Request upgrade = parser.release();
      const auto parts = segments(serve::path_of(serve::target_of(upgrade)));
      if (!authorised(upgrade)) {
        reply_and_close(http::status::unauthorized, "this server needs its token", version);
      } else if (parts.size() == 4 && parts[0] == "api" && parts[1] == "sessions" && parts[3] == "ws") {
        serve_websocket(std::move(socket), upgrade, parts[2], fd);  // it closes the connection
        return;
      } else {
        reply_and_close(http::status::not_found, "no WebSocket at " + std::string(serve::target_of(upgrade)), version);
      }
      break;
    }
    if (!parser.is_done()) http::read(stream, buffer, parser, ec);
    if (ec == http::error::body_limit) {
      reply_and_close(http::status::payload_too_large, "the upload is larger than --max_upload_mb", version);
      break;
    }
    if (ec == asio::error::timed_out) {
      reply_and_close(http::status::request_timeout, too_slow, version);
      break;
    }
    if (ec) break;
    const Request request = parser.release();
    const std::string path(serve::path_of(serve::target_of(request)));
    const auto parts = segments(path);
    if (!authorised(request)) {
      Response r = serve::error_response(http::status::unauthorized,
                                         "this server needs its token: Authorization: Bearer <token>", version);
      http::write(stream, r, ec);
    } else if (request.method() == http::verb::get && parts.size() == 4 && parts[0] == "api" &&
               parts[1] == "jobs" && (parts[3] == "events" || parts[3] == "result")) {
      try {
        if (parts[3] == "events") {
          stream_events(stream, parts[2], version);
          break;  // an event stream ends its connection
        }
        send_file(stream, jobs->result(parts[2]), "video/mp4", version);
      } catch (const ApiError& e) {
        http::write(stream, serve::error_response(e.status(), e.what(), version), ec);
      }
    } else {
      Response r = handle(request);
      r.keep_alive(request.keep_alive());
      http::write(stream, r, ec);
      if (!request.keep_alive()) break;
    }
    if (ec) break;
  }
  close_connection(socket, fd);
}

void Server::Impl::close_connection(tcp::socket& socket, int fd) {
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  std::lock_guard<std::mutex> lock(sockets_mutex);
  sockets.erase(fd);
  socket.close(ec);
  connections_done.notify_all();
}

bool Server::Impl::authorised(const Request& request) const {
  if (options.token.empty()) return true;
  const auto auth = request.find(http::field::authorization);
  if (auth != request.end()) {
    const std::string value(serve::to_std(auth->value()));
    if (value.rfind("Bearer ", 0) == 0 && same_secret(value.substr(7), options.token)) return true;
  }
  if (const auto c = serve::cookie(request, "dinet_token"); c && same_secret(*c, options.token)) return true;
  // The page's first visit: http://host:port/?token=... sets the cookie (handle()).
  const auto q = serve::query_parameter(serve::target_of(request), "token");
  return q && same_secret(*q, options.token) && serve::path_of(serve::target_of(request)) == "/";
}

Response Server::Impl::handle(const Request& request) {
  const unsigned version = request.version();
  try {
    const std::string path(serve::path_of(serve::target_of(request)));
    const auto parts = segments(path);
    const auto method = request.method();
    auto method_not_allowed = [&] {
      return serve::error_response(http::status::method_not_allowed,
                                   std::string(serve::to_std(request.method_string())) + " " + path + " is not supported", version);
    };
    if (parts.empty() || (parts.size() == 1 && parts[0] != "api")) {
      if (method != http::verb::get) return method_not_allowed();
      const std::string name = parts.empty() ? "index.html" : parts[0];
      const auto bytes = serve::web_file(options.web_dir, name);
      if (!bytes) return serve::error_response(http::status::not_found, "no page " + path, version);
      Response r(http::status::ok, version);
      r.set(http::field::content_type, serve::content_type_of(name));
      r.set(http::field::cache_control, "no-cache");
      if (!options.token.empty() && serve::query_parameter(serve::target_of(request), "token"))
        r.set(http::field::set_cookie, "dinet_token=" + options.token + "; Path=/; HttpOnly; SameSite=Strict");
      r.body() = *bytes;
      r.prepare_payload();
      return r;
    }
    if (parts[0] != "api" || parts.size() < 2)
      return serve::error_response(http::status::not_found, "no route " + path, version);
    if (parts[1] == "health" && parts.size() == 2) {
      if (method != http::verb::get) return method_not_allowed();
      return serve::json_response(http::status::ok, {{"ok", true}, {"model", options.model_path.filename().string()}}, version);
    }
    if (parts[1] == "jobs") {
      if (parts.size() == 2) {
        if (method == http::verb::get) return serve::json_response(http::status::ok, {{"jobs", jobs->list()}}, version);
        if (method == http::verb::post) return submit_job(request);
        return method_not_allowed();
      }
      if (parts.size() == 3) {
        if (method == http::verb::get) return serve::json_response(http::status::ok, jobs->status(parts[2]), version);
        if (method == http::verb::delete_)
          return serve::json_response(http::status::ok,
                                      {{"id", parts[2]}, {"state", jobs->cancel_or_delete(parts[2])}}, version);
        return method_not_allowed();
      }
      if (parts.size() == 4 && (parts[3] == "events" || parts[3] == "result")) return method_not_allowed();
    }
    if (parts[1] == "avatars" || parts[1] == "sessions" || parts[1] == "stats") return live_route(request, parts);
    return serve::error_response(http::status::not_found, "no route " + path, version);
  } catch (const ApiError& e) {
    return serve::error_response(e.status(), e.what(), version);
  } catch (const std::exception& e) {
    // Ours, not the client's: said as it is, and the server goes on.
    std::fprintf(stderr, "dinet serve: %s %s: %s\n", std::string(serve::to_std(request.method_string())).c_str(),
                 std::string(serve::target_of(request)).c_str(), e.what());
    return serve::error_response(http::status::internal_server_error, e.what(), version);
  }
}

Response Server::Impl::submit_job(const Request& request) {
  const auto parts =
      serve::parse_multipart(request.body(), serve::header_value(request, http::field::content_type));
  json options = json::object();
  for (const auto& part : parts)
    if (part.name == "options" && !part.body.empty()) {
      try {
        options = json::parse(part.body);
      } catch (const json::parse_error& e) {
        throw ApiError(http::status::bad_request, std::string("options: not JSON: ") + e.what());
      }
    }
  options = serve::checked_job_options(options);
  // Staged under tmp/ and moved into place whole: a job directory is complete or absent.
  const fs::path staging = this->options.jobs_dir / "tmp" / serve::new_id();
  try {
    fs::create_directories(staging);
    const std::string video_name = store_part(parts, "video", staging / "video");
    const std::string audio_name = store_part(parts, "audio", staging / "audio");
    require_media(staging / "video", video_name, true);
    require_media(staging / "audio", audio_name, false);
    const std::string id = jobs->submit(staging, options, video_name, audio_name);
    return serve::json_response(http::status::accepted, {{"id", id}}, request.version());
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
}

Response Server::Impl::add_avatar(const Request& request) {
  const auto parts =
      serve::parse_multipart(request.body(), serve::header_value(request, http::field::content_type));
  const fs::path staging = options.jobs_dir / "tmp" / serve::new_id();
  try {
    fs::create_directories(staging);
    const std::string name = store_part(parts, "video", staging / "video");
    require_media(staging / "video", name, true);
    json answer = avatars->add(staging / "video", name);
    fs::remove_all(staging);
    return serve::json_response(http::status::accepted, answer, request.version());
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
}

Response Server::Impl::live_route(const Request& request, const std::vector<std::string>& parts) {
  const unsigned version = request.version();
  const auto method = request.method();
  auto ok = [&](const json& body, http::status status = http::status::ok) {
    return serve::json_response(status, body, version);
  };
  auto not_allowed = [&] {
    return serve::error_response(http::status::method_not_allowed,
                                 std::string(serve::to_std(request.method_string())) + " " + std::string(serve::target_of(request)) +
                                     " is not supported",
                                 version);
  };
  if (parts[1] == "stats" && parts.size() == 2) {
    if (method != http::verb::get) return not_allowed();
    json stats = sessions->stats();
    int running = 0, queued = 0;
    for (const auto& job : jobs->list()) {
      running += job["state"] == "running";
      queued += job["state"] == "queued";
    }
    stats["jobs"] = {{"running", running}, {"queued", queued}};
    return ok(stats);
  }
  if (parts[1] == "avatars") {
    if (parts.size() == 2 && method == http::verb::get) return ok({{"avatars", avatars->list()}});
    if (parts.size() == 2 && method == http::verb::post) return add_avatar(request);
    if (parts.size() == 3 && method == http::verb::delete_) {
      sessions->remove_avatar_sessions(parts[2]);
      avatars->remove(parts[2]);
      return ok({{"id", parts[2]}, {"state", "deleted"}});
    }
    if (parts.size() <= 3) return not_allowed();
  }
  if (parts[1] == "sessions") {
    if (parts.size() == 2) {
      if (method != http::verb::post) return not_allowed();
      const json body = serve::json_body(request);
      if (!body.is_object() || !body.contains("avatar") || !body["avatar"].is_string())
        throw ApiError(http::status::bad_request, R"(give the avatar: {"avatar": "<id>"})");
      return ok(sessions->create(body["avatar"]), http::status::created);
    }
    const std::string& id = parts[2];
    if (parts.size() == 3) {
      if (method != http::verb::delete_) return not_allowed();
      sessions->remove(id);
      return ok({{"id", id}, {"state", "ended"}});
    }
    if (parts.size() == 4 && method != http::verb::post) return not_allowed();
    if (parts.size() == 4 && parts[3] == "audio") {
      sessions->push_audio(id, request.body(), std::string(serve::header_value(request, http::field::content_type)),
                           options.jobs_dir / "tmp");
      return ok({{"id", id}, {"bytes", request.body().size()}});
    }
    if (parts.size() == 4 && parts[3] == "say") {
      const json body = serve::json_body(request);
      if (!body.is_object() || !body.contains("text") || !body["text"].is_string())
        throw ApiError(http::status::bad_request, R"(give the text: {"text": "Hello", "voice": "en"})");
      const json voice = body.value("voice", json("en"));
      if (!voice.is_string()) throw ApiError(http::status::bad_request, "voice must be a string such as \"en\"");
      sessions->say(id, body["text"], voice);
      return ok({{"id", id}});
    }
    if (parts.size() == 4 && parts[3] == "interrupt") {
      sessions->interrupt(id);
      return ok({{"id", id}});
    }
  }
  return serve::error_response(http::status::not_found, "no route " + std::string(serve::target_of(request)), version);
}

void Server::Impl::serve_websocket(tcp::socket socket, const Request& upgrade, const std::string& session_id, int fd) {
  namespace websocket = beast::websocket;
  boost::system::error_code ec;
  // The browser's messages and ours (ICE candidates, from GStreamer's threads) take turns on
  // this thread through an io_context of its own: a Beast stream is not thread-safe.
  asio::io_context io;
  const auto protocol = socket.local_endpoint(ec).protocol();
  tcp::socket own(io);
  own.assign(protocol, socket.release(), ec);
  websocket::stream<tcp::socket> ws(std::move(own));
  std::deque<std::string> outbox;
  bool writing = false, closing = false;
  // One write at a time (a close is a write too): after a bad message, the error goes out first.
  std::function<void()> write_next = [&] {
    if (writing) return;
    if (outbox.empty()) {
      if (closing) {  // the error is out: the connection ends without waiting for the browser
        boost::system::error_code ignored;
        ws.next_layer().shutdown(tcp::socket::shutdown_both, ignored);  // closed at the end, listed
        io.stop();  // Beast's timers would keep run() waiting
      }
      return;
    }
    writing = true;
    ws.text(true);
    ws.async_write(asio::buffer(outbox.front()), [&](boost::system::error_code e, size_t) {
      outbox.pop_front();
      writing = false;
      if (!e) write_next();
    });
  };
  auto send = [&io, &outbox, &write_next](const std::string& message) {
    asio::post(io, [&outbox, &write_next, message] {
      outbox.push_back(message);
      write_next();
    });
  };
  std::function<void(const std::string&)> on_message;
  try {
    on_message = sessions->connect(session_id, send);
  } catch (const ApiError& e) {
    Response r = serve::error_response(e.status(), e.what(), upgrade.version());
    r.keep_alive(false);
    http::write(ws.next_layer(), r, ec);
    close_connection(ws.next_layer(), fd);
    return;
  }
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.read_message_max(256 * 1024);
  ws.accept(upgrade, ec);
  if (!ec) {
    beast::flat_buffer buffer;
    std::function<void()> read_next = [&] {
      ws.async_read(buffer, [&](boost::system::error_code e, size_t) {
        if (e) {  // closed, timed out: the session ends below
          io.stop();
          return;
        }
        const std::string message = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        try {
          on_message(message);
        } catch (const std::exception& bad) {
          outbox.push_back(json{{"type", "error"}, {"message", bad.what()}}.dump());
          closing = true;
          write_next();
          return;
        }
        read_next();
      });
    };
    read_next();
    io.run();
  }
  // The browser left: the session ends with it (the peer first, so nothing posts to `io` after).
  sessions->disconnected(session_id);
  close_connection(ws.next_layer(), fd);
}

void Server::Impl::stream_events(serve::TimedSocket& stream, const std::string& id, unsigned version) {
  json last = jobs->status(id);  // 404 before any event
  http::response<http::empty_body> header(http::status::ok, version);
  header.set(http::field::content_type, "text/event-stream");
  header.set(http::field::cache_control, "no-store");
  header.keep_alive(false);
  http::response_serializer<http::empty_body> serializer(header);
  boost::system::error_code ec;
  http::write_header(stream, serializer, ec);
  for (bool first = true; !ec && !stop; first = false) {
    const json now = first ? last : jobs->wait_for_change(id, last, std::chrono::seconds(15));
    // Every 15 s without news a comment line keeps proxies from closing the stream.
    const std::string event = (now == last && !first) ? ": still here\n\n" : "data: " + now.dump() + "\n\n";
    asio::write(stream, asio::buffer(event), ec);
    last = now;
    const std::string state = now.value("state", "");
    if (state != "queued" && state != "running") break;
  }
}

void Server::Impl::send_file(serve::TimedSocket& stream, const fs::path& file, const std::string& type, unsigned version) {
  http::response<http::file_body> response(http::status::ok, version);
  boost::system::error_code ec;
  response.body().open(file.c_str(), beast::file_mode::scan, ec);
  if (ec) throw ApiError(http::status::not_found, "the result file is gone");
  response.set(http::field::content_type, type);
  response.set(http::field::content_disposition, "inline; filename=\"dubbed.mp4\"");
  response.prepare_payload();
  http::write(stream, response, ec);
}

}  // namespace dinet
