// Child processes, started one way everywhere (`dinet launch`'s ranks, `dinet demo`'s steps):
// fork, then only system calls until exec, as a fork from a threaded process must.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace dinet {

struct ProcessSpec {
  std::string program;            // a path to execute ("/proc/self/exe": this executable)
  std::vector<std::string> args;  // argv, the program's name first
  std::vector<std::string> env;   // "KEY=VALUE" entries; empty: this process's environment
  int out_fd = -1, err_fd = -1;   // the child's stdout and stderr; -1: this process's own
  bool die_with_parent = false;   // the child gets SIGTERM when this process dies, even by kill -9
};

// Starts the child; throws dinet::Error when it cannot fork. A program that cannot be executed
// makes the child print one line and exit with 127.
pid_t start_process(const ProcessSpec& spec);

// An exit status as a shell reports it: the code, or 128 + the signal that killed it.
int exit_code(int wait_status);

// Waits for the child to end and returns exit_code of its status.
int wait_process(pid_t pid);

// start_process, then wait_process.
int run_process(const ProcessSpec& spec);

}  // namespace dinet
