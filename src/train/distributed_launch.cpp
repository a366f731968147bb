// `dinet launch`: what torchrun does for one job, without Python. Node 0 serves the
// rendezvous store, as torchrun's agent does with its default static rendezvous, so the
// processes join exactly as they do under torchrun. Their output is passed on line by line
// with the rank in front, and the first failure stops the rest.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <string_view>

#include "dinet/distributed.h"
#include "dinet/error.h"
#include "dinet/interrupt.h"
#include "dinet/process.h"

extern char** environ;

namespace dinet {
namespace {

using Clock = std::chrono::steady_clock;

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// One of a process's two output streams, passed on with the rank in front of each line. A
// carriage return ends a line too, so a progress bar keeps redrawing in place.
struct Stream {
  int fd = -1;     // our end of the pipe; -1 once closed
  int target = 1;  // where its lines go: our stdout or stderr
  std::string prefix;
  std::string pending;

  void pass_on(bool at_end) {
    size_t start = 0;
    for (size_t i = 0; i < pending.size(); ++i)
      if (pending[i] == '\n' || pending[i] == '\r') {
        write_all(target, prefix + pending.substr(start, i + 1 - start));
        start = i + 1;
      }
    pending.erase(0, start);
    if (at_end && !pending.empty()) write_all(target, prefix + pending + "\n");
    if (at_end) pending.clear();
  }

  void read_available() {
    char buffer[65536];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n > 0) {
      pending.append(buffer, static_cast<size_t>(n));
      pass_on(false);
      return;
    }
    pass_on(true);
    ::close(fd);
    fd = -1;
  }
};

struct Process {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  Stream out, err;
};

std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const std::string candidate = std::string(dirs.substr(0, colon)) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    dirs.remove_prefix(colon == std::string_view::npos ? dirs.size() : colon + 1);
  }
  throw Error(name, "not found on PATH");
}

// The calling environment with the job's variables set over it.
std::vector<std::string> environment_for(const std::map<std::string, std::string>& job) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    if (!job.count(std::string(entry.substr(0, entry.find('='))))) env.emplace_back(entry);
  }
  for (const auto& [key, value] : job) env.push_back(key + "=" + value);
  return env;
}

void check(const LaunchOptions& o) {
  if (o.command.empty()) throw Error("dinet launch: no command to run (give it after --)");
  if (o.nproc_per_node < 1) throw Error("--nproc_per_node", "must be at least 1");
  if (o.nnodes < 1) throw Error("--nnodes", "must be at least 1");
  if (o.node_rank < 0 || o.node_rank >= o.nnodes)
    throw Error("--node_rank",
                "must be from 0 to --nnodes - 1 (" + std::to_string(o.nnodes - 1) + ")");
  if (o.master_port < 0 || o.master_port > 65535)
    throw Error("--master_port", "must be from 0 to 65535");
  if (o.nnodes > 1 && o.master_port == 0)
    throw Error("--master_port",
                "required with several machines: node 0 serves the rendezvous there");
}

void signal_running(std::vector<Process>& processes, int signal) {
  for (Process& p : processes)
    if (p.running) ::kill(p.pid, signal);
}

Process start_rank(const LaunchOptions& o, const std::string& program, int local, int port) {
  Process p;
  p.rank = o.node_rank * o.nproc_per_node + local;
  const int world = o.nproc_per_node * o.nnodes;
  const std::map<std::string, std::string> job{
      {"RANK", std::to_string(p.rank)},
      {"LOCAL_RANK", std::to_string(local)},
      {"WORLD_SIZE", std::to_string(world)},
      {"LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node)},
      {"GROUP_RANK", std::to_string(o.node_rank)},
      {"GROUP_WORLD_SIZE", std::to_string(o.nnodes)},
      {"ROLE_RANK", std::to_string(p.rank)},
      {"ROLE_WORLD_SIZE", std::to_string(world)},
      {"ROLE_NAME", "default"},
      {"MASTER_ADDR", o.master_addr},
      {"MASTER_PORT", std::to_string(port)},
      {"TORCHELASTIC_USE_AGENT_STORE", "True"},
      {"TORCHELASTIC_RESTART_COUNT", "0"},
      {"TORCHELASTIC_MAX_RESTARTS", "0"},
      {"TORCHELASTIC_RUN_ID", "dinet-launch"}};
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw Error("dinet launch: pipe: " + std::string(std::strerror(errno)));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]), ::close(out[1]);
    throw Error("dinet launch: pipe: " + std::string(std::strerror(errno)));
  }
  const std::string prefix = "[rank " + std::to_string(p.rank) + "] ";
  p.out = {out[0], 1, prefix, {}};
  p.err = {err[0], 2, prefix, {}};
  try {
    ProcessSpec spec{program, o.command, environment_for(job), out[1], err[1], /*die_with_parent=*/true};
    p.pid = start_process(spec);
  } catch (const Error&) {
    for (const int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    throw;
  }
  p.running = true;
  ::close(out[1]);
  ::close(err[1]);
  return p;
}

// Passes the output on until every process has ended; the first failure (or a signal to
// us) stops the rest. Returns the exit status of the launch.
int supervise(std::vector<Process>& processes, std::chrono::milliseconds kill_grace) {
  int result = 0;
  bool stopping = false;
  Clock::time_point kill_at;
  const auto stop = [&](int status) {
    result = status;
    stopping = true;
    kill_at = Clock::now() + kill_grace;
    signal_running(processes, SIGTERM);
  };
  while (true) {
    std::vector<pollfd> fds;
    std::vector<Stream*> streams;
    bool running = false;
    for (Process& p : processes) {
      running = running || p.running;
      for (Stream* s : {&p.out, &p.err})
        if (s->fd >= 0) {
          fds.push_back({s->fd, POLLIN, 0});
          streams.push_back(s);
        }
    }
    if (fds.empty() && !running) return result;
    ::poll(fds.data(), fds.size(), 100);
    for (size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents) streams[i]->read_available();

    for (Process& p : processes) {
      int status = 0;
      if (!p.running || ::waitpid(p.pid, &status, WNOHANG) != p.pid) continue;
      p.running = false;
      if (exit_code(status) == 0 || stopping) continue;
      write_all(2, "dinet launch: rank " + std::to_string(p.rank) + " failed (exit status " +
                       std::to_string(exit_code(status)) + "); stopping the others\n");
      stop(exit_code(status));
    }
    if (interrupt_signal() && !stopping) stop(128 + interrupt_signal());
    if (stopping && Clock::now() > kill_at) signal_running(processes, SIGKILL);
  }
}

}  // namespace

int launch(const LaunchOptions& o) {
  check(o);
  const std::string program = resolve_program(o.command.front());
  int port = o.master_port;
  c10::intrusive_ptr<c10d::TCPStore> store;
  if (o.node_rank == 0) {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(port);
    options.isServer = true;
    options.waitWorkers = false;
    try {
      store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", options);
    } catch (const std::exception& e) {
      const std::string message = e.what();
      throw Error("dinet launch: cannot serve the rendezvous on port " + std::to_string(port) +
                  ": " + message.substr(0, message.find('\n')));
    }
    port = store->getPort();
  }
  // The first SIGINT or SIGTERM is passed on to the processes (SIGTERM), which stop; a
  // second ends the launch at once, and the processes with it (die_with_parent).
  const InterruptScope interrupts("dinet launch");
  std::vector<Process> processes;
  try {
    for (int local = 0; local < o.nproc_per_node; ++local)
      processes.push_back(start_rank(o, program, local, port));
  } catch (const Error&) {
    signal_running(processes, SIGKILL);
    for (Process& p : processes) {
      ::waitpid(p.pid, nullptr, 0);
      ::close(p.out.fd), ::close(p.err.fd);
    }
    throw;
  }
  return supervise(processes, o.kill_grace);
}

}  // namespace dinet
