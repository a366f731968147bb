#include "dinet/process.h"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "dinet/error.h"

extern char** environ;

namespace dinet {
namespace {

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

pid_t start_process(const ProcessSpec& spec) {
  // Everything the child needs is allocated before the fork.
  std::vector<std::string> args = spec.args, env = spec.env;
  if (args.empty()) args.push_back(spec.program);
  std::vector<char*> argv = c_strings(args), envp = c_strings(env);
  char* const* environment = env.empty() ? environ : envp.data();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(spec.program, "cannot start a process: " + std::string(std::strerror(errno)));
  if (pid > 0) return pid;
  if (spec.out_fd >= 0) ::dup2(spec.out_fd, 1);
  if (spec.err_fd >= 0) ::dup2(spec.err_fd, 2);
  if (spec.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
  }
  ::syscall(SYS_close_range, 3u, ~0u, 0u);  // e.g. a listening socket of the parent's
  ::execve(spec.program.c_str(), argv.data(), environment);
  static constexpr char kFailed[] = "dinet: cannot execute a child process\n";
  [[maybe_unused]] auto n = ::write(2, kFailed, sizeof kFailed - 1);
  ::_exit(127);
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

int wait_process(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error("waitpid: " + std::string(std::strerror(errno)));
  return exit_code(status);
}

int run_process(const ProcessSpec& spec) { return wait_process(start_process(spec)); }

}  // namespace dinet
