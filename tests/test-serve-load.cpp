// `dinet serve` under load: clients at once, for a while, submitting jobs and every kind of
// request the server must refuse. Then: every job it took is done and its result is a video,
// every refusal was a 4xx (never a 5xx, never a connection dropped where an answer was due),
// the server is up with its memory, threads and files back near their level after warm-up,
// and deleting the jobs leaves no file behind.
//
// DINET_LOAD_SECONDS sets how long the load lasts (default 50; docs/serve.md has a 5-minute run).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "dinet/media.h"
#include "serve_test_support.h"

namespace dinet::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kClients = 8;
constexpr int kClientTimeout = 2;   // --client_timeout: how long the server waits on a stalled client
constexpr int kMaxRunning = 2, kMaxQueued = 4;  // 8 clients at once overflow it: some submissions get 503

double load_seconds() {
  const char* s = std::getenv("DINET_LOAD_SECONDS");
  return s && std::atof(s) > 0 ? std::atof(s) : 50.0;  // the whole test within 90 s
}

// A number read from /proc/<pid>/status ("VmRSS:  123 kB" -> 123).
long proc_status_value(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

long open_files(pid_t pid) {
  long n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

// What the server sent on a raw connection until it closed it, or until `wait` passed.
struct RawReply {
  std::string bytes;
  bool closed = false;  // the server closed the connection (EOF or reset)
  int status() const {  // the HTTP status of the first answer; 0 without one
    return bytes.rfind("HTTP/1.", 0) == 0 && bytes.size() >= 12 ? std::atoi(bytes.c_str() + 9) : 0;
  }
};

// Sends `bytes` on a fresh connection (then, with `close_after`, closes at once), and reads
// what comes back until the server closes or `wait` passes: for what an HTTP library would not send.
RawReply raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds wait, bool close_after = false) {
  RawReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return reply;
  }
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (close_after) {
    ::close(fd);
    reply.closed = true;
    return reply;
  }
  const auto deadline = Clock::now() + wait;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left))) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      reply.closed = true;
      break;
    }
    reply.bytes.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

// What the clients saw, all together.
class Tally {
 public:
  void answered(const std::string& kind) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++answered_[kind];
  }
  void wrong(const std::string& kind, const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++answered_[kind];
    if (wrong_.size() < 50) wrong_.push_back(kind + ": " + what.substr(0, 300));
    ++wrong_count_;
  }
  // A bad request: its answer must be a 4xx.
  void refusal(const std::string& kind, int status, const std::string& body) {
    if (status >= 400 && status < 500) answered(kind);
    else wrong(kind, "answered " + std::to_string(status) + " (a 4xx is due) " + body);
  }
  std::map<std::string, int> counts() {
    std::lock_guard<std::mutex> lock(mutex_);
    return answered_;
  }
  std::vector<std::string> wrong_answers() {
    std::lock_guard<std::mutex> lock(mutex_);
    return wrong_;
  }
  long wrong_total() {
    std::lock_guard<std::mutex> lock(mutex_);
    return wrong_count_;
  }
  long total() {
    std::lock_guard<std::mutex> lock(mutex_);
    long n = 0;
    for (const auto& [k, v] : answered_) n += v;
    return n;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> answered_;
  std::vector<std::string> wrong_;
  long wrong_count_ = 0;
};

std::string random_id(std::mt19937& random) {
  std::string id;
  for (int i = 0; i < 24; ++i) id += "0123456789abcdef"[random() % 16];
  return id;
}

// Every kind of request the server must refuse, each checked against what is due.
std::vector<std::pair<std::string, std::function<void(Tally&, std::mt19937&)>>> bad_requests(int port,
                                                                                            const JobInputs& in) {
  const FormField video{"video", "v.mp4", in.video_bytes}, audio{"audio", "a.wav", in.audio_bytes};
  // An HTTP request the server must answer 4xx; a dropped connection is wrong too.
  auto refused = [](const std::string& kind, std::function<HttpReply()> request) {
    return [kind, request](Tally& tally, std::mt19937&) {
      try {
        const HttpReply r = request();
        tally.refusal(kind, r.status, r.body);
      } catch (const std::exception& e) {
        tally.wrong(kind, std::string("no answer: ") + e.what());
      }
    };
  };
  const std::chrono::milliseconds answer_wait(10000), stall_wait((kClientTimeout + 10) * 1000);
  // A raw exchange whose answer must be a 4xx followed by the server closing.
  auto raw_refused = [port](const std::string& kind, std::string bytes, std::chrono::milliseconds wait) {
    return [=](Tally& tally, std::mt19937&) {
      const RawReply r = raw_exchange(port, bytes, wait);
      if (!r.closed) tally.wrong(kind, "the server neither answered nor closed within the wait; got: " + r.bytes);
      else tally.refusal(kind, r.status(), r.bytes);
    };
  };
  std::vector<std::pair<std::string, std::function<void(Tally&, std::mt19937&)>>> kinds;
  auto add = [&](const std::string& kind, std::function<void(Tally&, std::mt19937&)> f) { kinds.emplace_back(kind, f); };

  add("garbage instead of HTTP", raw_refused("garbage instead of HTTP", std::string("\x16\x03\x01\x02\x00 not http\r\n\r\n", 24), answer_wait));
  add("header over 16 KiB", raw_refused("header over 16 KiB",
                                        "GET /api/jobs HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n",
                                        answer_wait));
  add("unknown route", refused("unknown route", [port] { return http_request(port, "GET", "/api/nothing"); }));
  add("unknown page", refused("unknown page", [port] { return http_request(port, "GET", "/nothing.html"); }));
  add("path tricks", [=](Tally& tally, std::mt19937&) {
    for (const char* target : {"/../../etc/passwd", "/api/jobs/../../etc/passwd", "/api/jobs/..%2F..%2Fetc%2Fpasswd",
                               "/%2e%2e/%2e%2e/etc/passwd", "/api/jobs/%00", "/api/avatars/../jobs/x"}) {
      const RawReply r = raw_exchange(port, std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                      answer_wait);
      tally.refusal("path tricks", r.status(), target);
    }
  });
  add("unknown job", [=](Tally& tally, std::mt19937& random) {
    const std::string id = random_id(random);
    refused("unknown job", [=] { return http_request(port, "GET", "/api/jobs/" + id); })(tally, random);
    refused("unknown job", [=] { return http_request(port, "DELETE", "/api/jobs/" + id); })(tally, random);
    refused("unknown job", [=] { return http_request(port, "GET", "/api/jobs/" + id + "/result"); })(tally, random);
    refused("unknown job", [=] { return http_request(port, "GET", "/api/jobs/" + id + "/events"); })(tally, random);
    refused("unknown job", [=] { return http_request(port, "GET", "/api/jobs/" + id.substr(0, 23) + "g"); })(tally, random);
  });
  add("wrong method", [=](Tally& tally, std::mt19937& random) {
    for (const auto& request : std::vector<std::pair<std::string, std::string>>{
             {"PUT", "/api/jobs"}, {"POST", "/api/health"}, {"PATCH", "/api/jobs/" + random_id(random)},
             {"POST", "/api/jobs/" + random_id(random) + "/result"}, {"DELETE", "/"}, {"PUT", "/api/stats"}})
      refused("wrong method", [=] { return http_request(port, request.first, request.second); })(tally, random);
  });
  add("not multipart", refused("not multipart", [port] {
        return http_request(port, "POST", "/api/jobs", "{}", {{"Content-Type", "application/json"}});
      }));
  add("malformed multipart", [=](Tally& tally, std::mt19937& random) {
    refused("malformed multipart", [=] {
      return http_request(port, "POST", "/api/jobs", "--x\r\nbroken", {{"Content-Type", "multipart/form-data; boundary=x"}});
    })(tally, random);
    refused("malformed multipart", [=] {
      return http_request(port, "POST", "/api/jobs", "--x--", {{"Content-Type", "multipart/form-data"}});
    })(tally, random);
    refused("malformed multipart", [=] { return post_form(port, "/api/jobs", {video}); })(tally, random);
  });
  add("not media", [=](Tally& tally, std::mt19937& random) {
    refused("not media", [=] { return post_form(port, "/api/jobs", {{"video", "notes.mp4", "this is text"}, audio}); })(tally, random);
    refused("not media", [=] { return post_form(port, "/api/jobs", {{"video", "a.wav", in.audio_bytes}, audio}); })(tally, random);
    refused("not media", [=] { return post_form(port, "/api/jobs", {video, {"audio", "../../x.wav", "RIFF...."}}); })(tally, random);
  });
  add("over the size limit",
      raw_refused("over the size limit",
                  "POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  "Content-Length: 52428800\r\n\r\n",
                  answer_wait));
  add("bad options", [=](Tally& tally, std::mt19937& random) {
    for (const char* options : {"{not json", R"({"mouth": 256})", "[1, 2]", R"({"crf": 99})", R"({"precision": 8})"})
      refused("bad options", [=] { return post_form(port, "/api/jobs", {video, audio, {"options", "", options}}); })(tally, random);
  });
  add("truncated, then closed", [=](Tally& tally, std::mt19937&) {
    // No answer is due to a client that left; the server must just go on (checked after the load).
    raw_exchange(port,
                 "POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                 "Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"video\"\r\n\r\n" +
                     in.video_bytes.substr(0, 4000),
                 answer_wait, true);
    tally.answered("truncated, then closed");
  });
  // Stalled clients: the server answers 408 and closes after --client_timeout.
  add("stalled in the header", raw_refused("stalled in the header", "GET /api/jobs HTTP/1.1\r\nHost: x\r\n", stall_wait));
  add("stalled in the body",
      raw_refused("stalled in the body",
                  "POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  "Content-Length: 100000\r\n\r\n--b\r\n",
                  stall_wait));
  add("WebSocket to no session", [=](Tally& tally, std::mt19937& random) {
    const std::string upgrade =
        " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    for (const std::string& target : {"/api/sessions/" + random_id(random) + "/ws", std::string("/api/sessions/x/ws"),
                                      std::string("/api/nothing")})
      raw_refused("WebSocket to no session", "GET " + target + upgrade, answer_wait)(tally, random);
  });
  add("bad live requests", [=](Tally& tally, std::mt19937& random) {
    const std::string id = random_id(random);
    const std::map<std::string, std::string> json_type{{"Content-Type", "application/json"}};
    refused("bad live requests", [=] { return http_request(port, "POST", "/api/sessions", "{oops", json_type); })(tally, random);
    refused("bad live requests", [=] { return http_request(port, "POST", "/api/sessions", R"({"avatar": ")" + id + "\"}", json_type); })(tally, random);
    refused("bad live requests", [=] { return http_request(port, "POST", "/api/sessions/" + id + "/say", R"({"text": "hi"})", json_type); })(tally, random);
    refused("bad live requests", [=] { return http_request(port, "DELETE", "/api/avatars/" + id); })(tally, random);
  });
  return kinds;
}

// A request the server must answer 200.
void expect_ok(Tally& tally, const std::string& kind, int port, const std::string& target) {
  try {
    const HttpReply r = http_request(port, "GET", target);
    if (r.status == 200) tally.answered(kind);
    else tally.wrong(kind, target + " answered " + std::to_string(r.status) + " " + r.body);
  } catch (const std::exception& e) {
    tally.wrong(kind, target + ": no answer: " + e.what());
  }
}

struct Usage {
  long rss_kb, threads, files;
};

Usage usage_of(pid_t pid) { return {proc_status_value(pid, "VmRSS"), proc_status_value(pid, "Threads"), open_files(pid)}; }

// The files under `dir`, for a message.
std::string files_under(const fs::path& dir) {
  std::string out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out += fs::relative(e.path(), dir).string() + (e.is_directory() ? "/" : "") + "\n";
  return out;
}

// Downloads a done job's result and checks it is a video of the clip's length with sound.
void expect_result_video(int port, const std::string& id, const fs::path& file) {
  const HttpReply result = http_request(port, "GET", "/api/jobs/" + id + "/result");
  ASSERT_EQ(result.status, 200) << id;
  write_file_atomic(file, result.body);
  const MediaStreams streams = probe_media(file);
  EXPECT_TRUE(streams.video && streams.audio) << id;
  EXPECT_NEAR(streams.duration_s, 1.0, 0.2) << id;
}

TEST(ServeLoad, ClientsAtOnceGetJobsDoneAndEveryBadRequestRefused) {
  TempDir dir;
  const JobInputs in = make_job_inputs(dir, 1.0);
  const fs::path jobs_dir = dir / "jobs";
  ServerProcess server("--model_path " + in.model.string() + " --jobs_dir " + jobs_dir.string() +
                           " --threads 1 --max_running " + std::to_string(kMaxRunning) + " --max_queued " +
                           std::to_string(kMaxQueued) + " --max_upload_mb 1 --client_timeout " +
                           std::to_string(kClientTimeout),
                       dir / "server.log");
  ASSERT_GT(server.port(), 0) << server.output();
  const int port = server.port();
  const pid_t pid = server.pid();
  const std::vector<FormField> job_form = {{"video", "face.mp4", in.video_bytes},
                                           {"audio", "speech.wav", in.audio_bytes},
                                           {"options", "", R"({"crf": 30})"}};
  const auto kinds = bad_requests(port, in);

  // Warm-up: one job through, every kind of refusal once; the usage after it is the level.
  const auto warm_start = Clock::now();
  const HttpReply first = post_form(port, "/api/jobs", job_form);
  ASSERT_EQ(first.status, 202) << first.body;
  const std::string first_id = json::parse(first.body)["id"];
  ASSERT_EQ(wait_for_job_end(port, first_id, 120)["state"], "done") << server.output();
  const double job_seconds = std::chrono::duration<double>(Clock::now() - warm_start).count();
  expect_result_video(port, first_id, dir / "first.mp4");
  {
    Tally warm;
    std::mt19937 random(1);
    for (const auto& [kind, request] : kinds) request(warm, random);
    for (const std::string& w : warm.wrong_answers()) ADD_FAILURE() << "warm-up: " << w;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const Usage level = usage_of(pid);

  // The load: kClients at once, each in a bounded loop of bad requests, reads of the jobs,
  // and now and then a job (a 503 "busy" is tried again later). Jobs are submitted in the
  // first two thirds, so that the last ones finish soon after.
  const double seconds = load_seconds();
  const auto at = [](double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); };
  const Clock::time_point start = Clock::now(), submit_until = start + at(seconds * 2 / 3), end = start + at(seconds);
  // As many jobs as the runners can finish in the submission window (measured without load).
  const int job_budget = std::max(kMaxRunning, static_cast<int>(seconds * 2 / 3 * kMaxRunning / job_seconds));
  std::atomic<int> jobs_left{job_budget};
  std::atomic<int> busy_answers{0};
  std::mutex ids_mutex;
  std::vector<std::string> job_ids;
  Tally tally;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      std::mt19937 random(static_cast<unsigned>(100 + c));
      bool holding_job = false;  // took one from the budget and has not had it accepted yet
      auto next_try = Clock::now() + std::chrono::milliseconds(250 * c);
      for (int i = 0; i < 100000 && Clock::now() < end; ++i) {
        if (!holding_job && Clock::now() >= next_try && Clock::now() < submit_until) {
          int left = jobs_left.load();
          while (left > 0 && !jobs_left.compare_exchange_weak(left, left - 1)) {}
          holding_job = left > 0;
        }
        if (holding_job && Clock::now() >= next_try && Clock::now() < submit_until) {
          try {
            const HttpReply r = post_form(port, "/api/jobs", job_form);
            if (r.status == 202) {
              std::lock_guard<std::mutex> lock(ids_mutex);
              job_ids.push_back(json::parse(r.body)["id"].get<std::string>());
              holding_job = false;
              tally.answered("job submitted");
            } else if (r.status == 503) {
              ++busy_answers;
              tally.answered("job refused busy (503, tried again)");
            } else {
              tally.wrong("job submitted", "answered " + std::to_string(r.status) + " " + r.body);
              holding_job = false;
            }
          } catch (const std::exception& e) {
            tally.wrong("job submitted", std::string("no answer: ") + e.what());
            holding_job = false;
          }
          next_try = Clock::now() + std::chrono::seconds(1);
        }
        // The stalled clients take seconds each: one client in four does them.
        const auto& [kind, request] = kinds[(i + c) % kinds.size()];
        if (kind.rfind("stalled", 0) != 0 || c % 4 == 0) request(tally, random);
        expect_ok(tally, "reads (health, lists, states)", port, i % 3 == 0 ? "/api/health" : "/api/jobs");
        std::string some_job;
        {
          std::lock_guard<std::mutex> lock(ids_mutex);
          if (!job_ids.empty()) some_job = job_ids[random() % job_ids.size()];
        }
        if (!some_job.empty()) expect_ok(tally, "reads (health, lists, states)", port, "/api/jobs/" + some_job);
      }
    });
  // A server that stops answering would hang the clients: after a generous while it is
  // killed, so that they fail instead.
  std::atomic<bool> clients_done{false};
  std::thread watchdog([&] {
    const auto give_up = end + std::chrono::seconds(60);
    while (!clients_done && Clock::now() < give_up) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!clients_done) {
      ADD_FAILURE() << "the clients were still waiting 60 s after the load's end: the server hangs";
      ::kill(pid, SIGKILL);
    }
  });
  for (auto& t : clients) t.join();
  clients_done = true;
  watchdog.join();
  const double load_s = std::chrono::duration<double>(Clock::now() - start).count();

  const Usage peak = usage_of(pid);
  ASSERT_FALSE(server.exited()) << server.output();
  EXPECT_EQ(http_request(port, "GET", "/api/health").status, 200);
  for (const std::string& w : tally.wrong_answers()) ADD_FAILURE() << w;

  // Every job taken ends done, with a video.
  int done = 0;
  for (const std::string& id : job_ids) {
    const json state = wait_for_job_end(port, id, 180);
    EXPECT_EQ(state["state"], "done") << state.dump() << "\n" << server.output();
    if (state["state"] == "done") {
      ++done;
      expect_result_video(port, id, dir / "result.mp4");
    }
  }
  const double drain_s = std::chrono::duration<double>(Clock::now() - start).count() - load_s;

  // A quiet moment, then the usage is back near its level. Threads and open files exactly (a
  // connection's thread and socket end with it). Memory within 64 MiB: glibc keeps freed
  // memory in its per-thread arenas (up to 8 per core) for reuse, so it stays above the level
  // without a leak (by 31 MiB after 30 s of load, 38 MiB after 5 minutes: a plateau); a
  // leak grows with the requests instead: the default 50 s answer about 145 000, 16 000 of
  // them with uploads of 30 to 60 KB, so keeping 500 bytes of every request, or every tenth
  // upload, would pass the margin.
  constexpr long kMemoryMarginKb = 64 * 1024;
  Usage after{};
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    after = usage_of(pid);
    if (after.threads <= level.threads && after.files <= level.files) break;
  }
  EXPECT_LE(after.threads, level.threads);
  EXPECT_LE(after.files, level.files);
  EXPECT_LE(after.rss_kb, level.rss_kb + kMemoryMarginKb);

  // Deleting the jobs removes every file of theirs; what stays are the server's empty folders.
  for (const std::string& id : job_ids) EXPECT_EQ(json::parse(http_request(port, "DELETE", "/api/jobs/" + id).body)["state"], "deleted");
  EXPECT_EQ(json::parse(http_request(port, "DELETE", "/api/jobs/" + first_id).body)["state"], "deleted");
  EXPECT_EQ(json::parse(http_request(port, "GET", "/api/jobs").body)["jobs"].size(), 0u);
  for (const auto& e : fs::recursive_directory_iterator(jobs_dir))
    EXPECT_TRUE(e.is_directory() && fs::is_empty(e.path())) << "left behind:\n" << files_under(jobs_dir);
  std::set<std::string> folders;
  for (const auto& e : fs::directory_iterator(jobs_dir)) folders.insert(e.path().filename().string());
  EXPECT_EQ(folders, (std::set<std::string>{"avatars", "jobs", "tmp"})) << files_under(jobs_dir);

  EXPECT_EQ(http_request(port, "GET", "/api/health").status, 200);
  EXPECT_EQ(server.stop(), 0) << server.output();  // and it still stops cleanly

  std::printf("load: %d clients for %.0f s (then %.0f s for the last jobs): %ld requests answered, %ld wrong\n",
              kClients, load_s, drain_s, tally.total(), tally.wrong_total());
  for (const auto& [kind, n] : tally.counts()) std::printf("  %6d  %s\n", n, kind.c_str());
  std::printf("jobs: %zu taken (budget %d, one took %.1f s alone), %d done, %d answers 503 busy\n", job_ids.size(),
              job_budget, job_seconds, done, busy_answers.load());
  std::printf("server: VmRSS %ld MiB after warm-up, %ld MiB after the load, %ld MiB after a quiet moment; "
              "threads %ld / %ld / %ld; open files %ld / %ld / %ld\n",
              level.rss_kb / 1024, peak.rss_kb / 1024, after.rss_kb / 1024, level.threads, peak.threads, after.threads,
              level.files, peak.files, after.files);
}

}  // namespace
}  // namespace dinet::test
