// WebRtcPeer against headless Chromium running web/live-peer.js (the page's own code), driven
// by tests/webrtc_browser.py through selenium: real browser SDP, mDNS candidates, VP8 and Opus.
// Skips when Chromium, chromedriver or python3-selenium is missing.
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <thread>

#include "dinet/process.h"
#include "dinet/webrtc.h"
#include "python_support.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The test's end of the socket to the browser script: JSON messages, one a line.
class BrowserChannel {
 public:
  explicit BrowserChannel(int fd) : fd_(fd) {}
  ~BrowserChannel() { ::close(fd_); }
  void send(const std::string& line) {
    std::lock_guard lock(write_mutex_);
    const std::string framed = line + "\n";
    for (size_t sent = 0; sent < framed.size();) {
      const ssize_t n = ::write(fd_, framed.data() + sent, framed.size() - sent);
      if (n <= 0) return;
      sent += size_t(n);
    }
  }
  // The messages that arrived within `wait_ms`.
  std::vector<std::string> receive(int wait_ms) {
    pollfd readable{fd_, POLLIN, 0};
    std::vector<std::string> lines;
    if (::poll(&readable, 1, wait_ms) > 0) {
      char buffer[65536];
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n > 0) pending_.append(buffer, size_t(n));
      if (n == 0) closed_ = true;
    }
    for (size_t end; (end = pending_.find('\n')) != std::string::npos; pending_.erase(0, end + 1))
      lines.push_back(pending_.substr(0, end));
    return lines;
  }

 private:
  int fd_;
  std::mutex write_mutex_;
  std::string pending_;
  bool closed_ = false;

 public:
  bool closed() const { return closed_; }  // the script ended
};

TEST(WebRtcBrowser, ChromiumReceivesTheAvatarAndSendsItsMicrophone) {
  for (const char* program : {"/usr/bin/chromium", "/usr/bin/chromedriver"})
    if (!std::filesystem::exists(program)) GTEST_SKIP() << program << " is not installed";
  DINET_REQUIRE_PYTHON(python, "selenium");

  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  dinet::ProcessSpec spec;
  spec.program = python;
  if (python.find('/') == std::string::npos) spec.program = "/usr/bin/" + python;
  spec.args = {python, (dinet::test::source_dir() / "tests" / "webrtc_browser.py").string(),
               dinet::test::source_dir().string()};
  spec.out_fd = fds[1];  // the script's stdout is its end of the socket
  spec.die_with_parent = true;
  const pid_t browser = dinet::start_process(spec);
  ::close(fds[1]);
  auto channel = std::make_unique<BrowserChannel>(fds[0]);

  std::atomic<int> loudest_microphone{0};
  std::atomic<int64_t> microphone_samples{0};
  dinet::WebRtcOptions options;
  options.width = 512;
  options.height = 512;
  auto peer = std::make_unique<dinet::WebRtcPeer>(
      options, [&](const std::string& message) { channel->send(message); },
      [&](std::span<const int16_t> pcm) {
        int loudest = loudest_microphone;
        for (int16_t s : pcm) loudest = std::max(loudest, std::abs(int(s)));
        loudest_microphone = loudest;
        microphone_samples += int64_t(pcm.size());
      });
  json report;
  const auto carry = [&](int wait_ms) {
    for (const std::string& line : channel->receive(wait_ms)) {
      const json message = json::parse(line);
      if (message["type"] == "report") report = message;
      else peer->handle_signal(line);
    }
  };
  const auto deadline = Clock::now() + std::chrono::seconds(40);  // Chromium's start included
  while (!peer->connected() && !channel->closed() && Clock::now() < deadline) carry(20);
  ASSERT_FALSE(channel->closed()) << "the browser script ended early: see its error above";
  ASSERT_TRUE(peer->connected()) << "ICE " << peer->stats().ice_state << " " << peer->stats().error;

  // This process holds only the server's side: its CPU time while streaming is the peer's cost
  // (plus drawing the test frames).
  const auto cpu_seconds = [] {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  };
  const double cpu_before = cpu_seconds();
  constexpr int kFrames = 75;
  cv::Mat frame(options.height, options.width, CV_8UC3);
  std::vector<int16_t> audio(640);
  const auto start = Clock::now();
  for (int64_t k = 0; k < kFrames; ++k) {
    frame.forEach<cv::Vec3b>([k](cv::Vec3b& p, const int* at) {
      p = cv::Vec3b(uint8_t(at[1] + k * 4), uint8_t(at[0]), uint8_t((at[0] + at[1]) / 2));
    });
    for (size_t i = 0; i < audio.size(); ++i)
      audio[i] = int16_t(8000 * std::sin(2 * M_PI * 300 * double(k * 640 + int64_t(i)) / 16000));
    peer->push(frame, audio, k);
    while (Clock::now() < start + std::chrono::milliseconds(40 * (k + 1))) carry(5);
  }
  const double cpu_per_frame_ms = (cpu_seconds() - cpu_before) * 1000 / kFrames;
  const auto settle = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < settle) carry(20);
  channel->send(R"({"type":"report"})");
  const auto report_deadline = Clock::now() + std::chrono::seconds(10);
  while (report.is_null() && !channel->closed() && Clock::now() < report_deadline) carry(20);
  ASSERT_FALSE(report.is_null()) << "no report from the browser";
  std::printf("browser: %s\nserver: frames pushed %lld, encoded %lld, microphone samples %lld, "
              "CPU %.1f ms per frame\n",
              report.dump().c_str(), (long long)peer->stats().frames_pushed,
              (long long)peer->stats().frames_encoded, (long long)microphone_samples, cpu_per_frame_ms);

  EXPECT_EQ(report["state"], "connected");
  EXPECT_GE(report.value("framesDecoded", 0), kFrames * 8 / 10);
  EXPECT_EQ(report.value("frameWidth", 0), options.width);
  EXPECT_EQ(report.value("frameHeight", 0), options.height);
  EXPECT_GT(report.value("audioEnergy", 0.0), 0.0) << "the avatar's audio is silent at the browser";
  EXPECT_EQ(report.value("streams", 0), 2) << "audio and video not in one stream";
  EXPECT_EQ(report.value("streamId", ""), "dinet-avatar");
  EXPECT_GT(microphone_samples, 16000) << "less than 1 s of microphone";
  EXPECT_GT(loudest_microphone, 100) << "Chromium's fake microphone is silent at the server";

  peer.reset();
  channel.reset();  // the script sees the end and closes Chromium
  EXPECT_EQ(dinet::wait_process(browser), 0);
}

}  // namespace
