#include "dinet/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <cstring>

namespace dinet {
namespace {

std::atomic<bool> g_requested{false};
std::atomic<int> g_signal{0};
// The line printed at the first signal, built before any signal can arrive: a handler may
// only call async-signal-safe functions (write, sigaction).
char g_message[256];
size_t g_message_length = 0;
struct sigaction g_old_int{}, g_old_term{};
// Scopes nest (`dinet finetune` runs the trainers, which open their own): only the outermost
// installs and restores the handlers, so a signal is never lost between two scopes.
int g_depth = 0;

void on_signal(int signal) {
  g_signal = signal;
  g_requested = true;
  [[maybe_unused]] auto n = ::write(2, g_message, g_message_length);
  // The next signal takes the default action: the process ends at once.
  struct sigaction plain {};
  plain.sa_handler = SIG_DFL;
  ::sigaction(SIGINT, &plain, nullptr);
  ::sigaction(SIGTERM, &plain, nullptr);
}

}  // namespace

InterruptScope::InterruptScope(const std::string& command) {
  if (g_depth++ > 0) return;
  const std::string message =
      "\n" + command + ": stopping at the next safe point (Ctrl-C again to quit at once)\n";
  g_message_length = std::min(message.size(), sizeof g_message);
  std::memcpy(g_message, message.data(), g_message_length);
  g_requested = false;
  g_signal = 0;
  struct sigaction handler {};
  handler.sa_handler = on_signal;
  ::sigemptyset(&handler.sa_mask);
  ::sigaction(SIGINT, &handler, &g_old_int);
  ::sigaction(SIGTERM, &handler, &g_old_term);
}

InterruptScope::~InterruptScope() {
  if (--g_depth > 0) return;
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
}

int interrupt_signal() { return g_signal.load(); }

const std::atomic<bool>& interrupt_flag() { return g_requested; }

Interrupted::Interrupted(int signal)
    : Error(std::string("interrupted by ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT")), signal_(signal) {}

void throw_if_interrupted() {
  if (g_requested) throw Interrupted(g_signal.load());
}

}  // namespace dinet
