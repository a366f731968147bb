// What the server tests share: `build/dinet serve` started as a user starts it (a child
// process, its port read from its first line), a small HTTP client, and a job's inputs.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dinet/files.h"
#include "dinet/process.h"
#include "infer_test_support.h"
#include "test_support.h"

namespace dinet::test {

class ServerProcess {
 public:
  // Starts `dinet serve --port 0 <args>`; port() is 0 when it did not start (see output()).
  explicit ServerProcess(const std::string& args, const std::filesystem::path& log) : log_(log) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ProcessSpec spec;
    spec.program = "/bin/sh";
    spec.args = {"sh", "-c", "exec " + dinet_binary().string() + " serve --port 0 " + args};
    spec.out_fd = spec.err_fd = fd;
    spec.die_with_parent = true;
    pid_ = start_process(spec);
    ::close(fd);
    const std::regex line(R"(dinet serve: http://[^:]+:(\d+)/)");
    for (int i = 0; i < 600 && port_ == 0; ++i) {  // up to 60 s: a cold start loads LibTorch
      std::smatch m;
      const std::string text = output();
      if (std::regex_search(text, m, line)) port_ = std::stoi(m[1]);
      else if (exited()) break;
      else std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~ServerProcess() { stop(); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }  // -1 once it has exited
  std::string output() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      code_ = exit_code(status);
      pid_ = -1;
      return true;
    }
    return false;
  }
  int exit_status() { return exited() ? code_ : -1; }
  // SIGTERM, as Ctrl-C or a service manager stops it; returns its exit code.
  int stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      code_ = wait_process(pid_);
      pid_ = -1;
    }
    return code_;
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int port_ = 0, code_ = -1;
};

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

inline HttpReply http_request(int port, const std::string& method, const std::string& target,
                              const std::string& body = "", std::map<std::string, std::string> headers = {}) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) request.set(k, v);
  request.body() = body;
  request.prepare_payload();
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 30);
  http::read(socket, buffer, parser);
  HttpReply reply;
  reply.status = parser.get().result_int();
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = parser.get().body();
  return reply;
}

struct FormField {
  std::string name, filename, content;
};

// A multipart/form-data body and its Content-Type header, as a browser's form sends it.
inline std::pair<std::string, std::string> multipart(const std::vector<FormField>& fields) {
  const std::string boundary = "----dinet-test-boundary-7d1f";
  std::string body;
  for (const auto& f : fields) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f.name + "\"";
    if (!f.filename.empty()) body += "; filename=\"" + f.filename + "\"";
    body += "\r\nContent-Type: application/octet-stream\r\n\r\n" + f.content + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return {body, "multipart/form-data; boundary=" + boundary};
}

inline HttpReply post_form(int port, const std::string& target, const std::vector<FormField>& fields,
                           std::map<std::string, std::string> headers = {}) {
  auto [body, type] = multipart(fields);
  headers["Content-Type"] = type;
  return http_request(port, "POST", target, body, headers);
}

// A 4xx/5xx answer as the API gives every error: `status` and a JSON {"error"} that says `says`.
inline void expect_api_error(const HttpReply& r, int status, const std::string& says) {
  EXPECT_EQ(r.status, status) << r.body;
  const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
  EXPECT_NE(j["error"].get<std::string>().find(says), std::string::npos) << r.body;
}

// What a job needs: a random mel model at mouth 64, a synthetic face clip and a tone of `seconds`.
struct JobInputs {
  std::filesystem::path model, video, audio;
  std::string video_bytes, audio_bytes;
};

inline JobInputs make_job_inputs(const TempDir& dir, double seconds) {
  JobInputs in;
  in.model = save_random_model(dir / "model.pth", 64, audio_feature_spec("mel"));
  const SynthClip clip = make_synth_clip(dir / "synth", seconds);
  in.video = clip.video;
  in.audio = write_tone(dir / "speech.wav", seconds);
  in.video_bytes = read_file(in.video);
  in.audio_bytes = read_file(in.audio);
  return in;
}

// The job's state once it has left queued/running, or after `seconds`.
inline nlohmann::json wait_for_job_end(int port, const std::string& id, double seconds) {
  nlohmann::json status;
  for (int i = 0; i < seconds * 5; ++i) {
    status = nlohmann::json::parse(http_request(port, "GET", "/api/jobs/" + id).body);
    const std::string state = status["state"];
    if (state != "queued" && state != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return status;
}

}  // namespace dinet::test
