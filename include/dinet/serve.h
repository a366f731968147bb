// `dinet serve`: one process that answers a web page and a JSON API for dubbing jobs (the
// `dinet infer` of uploaded files, each in a child process) and for live sessions (an avatar
// dubbed as audio arrives, sent to the browser over WebRTC), and keeps their files under
// `jobs_dir`, so that finished results and avatars survive a restart. docs/serve.md has the API.
//
// Safe by default: it listens on 127.0.0.1; another host needs a token, checked on every
// request; uploads over the limit are refused before their body is read; every upload is
// probed as media; user file names never become paths; limits on running and queued work
// answer 503; slow clients time out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace dinet {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8000;  // 0: any free port (printed at start)
  // What jobs run with: passed to `dinet infer`.
  std::filesystem::path model_path;
  std::string audio_feature;              // empty: the checkpoint's
  std::filesystem::path deepspeech_model;
  std::string precision = "auto";  // a job may ask for another in its options
  std::string device = "cpu";
  int threads = 0;  // per running job; <= 0: the cores shared among --max_running jobs
  std::filesystem::path jobs_dir = "./dinet-serve";
  int64_t max_upload_mb = 500;
  std::string token;  // required unless the host is a loopback address
  int max_running = 1, max_queued = 8;
  // Live sessions (an avatar speaking audio as it arrives, over WebRTC): need a model trained
  // on the built-in mel feature.
  int max_sessions = 2;
  std::vector<std::filesystem::path> avatars;  // videos prepared as avatars at start
  std::string stun;                            // "stun://host:port"; empty: LAN only
  double retention_hours = 24;  // jobs older than this are removed with their files; <= 0: kept
  std::filesystem::path web_dir;  // empty: the page built into the program
  int client_timeout_s = 30;      // the longest silence of a client; a request header must arrive whole within it
};

class Server {
 public:
  // Checks the options (a non-loopback host without a token is refused), creates jobs_dir,
  // picks up the jobs a previous run left, binds the port. Throws dinet::Error.
  explicit Server(const ServeOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;  // the bound port
  // Answers requests until stop() or until a signal asks the process to stop
  // (dinet/interrupt.h); running jobs are stopped and will be re-queued at the next start.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dinet
