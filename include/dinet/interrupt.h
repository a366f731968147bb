// Ctrl-C and SIGTERM for long commands, handled one way everywhere: the first signal asks the
// work to stop at its next safe point (an epoch's step, a frame, a video); the work throws
// dinet::Interrupted, the stack unwinds (temporaries are removed by their AtomicFile), and the
// program exits with 130 (SIGINT) or 143 (SIGTERM). A second signal ends the process at once.
#pragma once

#include <atomic>
#include <string>

#include "dinet/error.h"

namespace dinet {

// Installs the handlers for its lifetime; the previous ones come back after. Scopes nest: an
// inner one (a trainer inside `dinet finetune`) keeps the outer one's handlers. `command` names
// the program in the one line printed at the first signal ("dinet train frame").
class InterruptScope {
 public:
  explicit InterruptScope(const std::string& command);
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

// The signal that asked the work to stop (SIGINT or SIGTERM), or 0. Always 0 outside an
// InterruptScope.
int interrupt_signal();
// The flag behind it, for options structs that take a `const std::atomic<bool>* cancel`.
const std::atomic<bool>& interrupt_flag();

// Thrown by work that stopped because of a signal; `exit_code()` is 128 + the signal.
class Interrupted : public Error {
 public:
  explicit Interrupted(int signal);
  int exit_code() const { return 128 + signal_; }

 private:
  int signal_;
};

// Throws Interrupted when a signal asked the work to stop.
void throw_if_interrupted();

}  // namespace dinet
