#include "serve/timed_socket.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

namespace dinet::serve {

TimedSocket::TimedSocket(boost::asio::ip::tcp::socket& socket, std::chrono::milliseconds timeout)
    : socket_(socket), timeout_(timeout) {
  boost::system::error_code ignored;  // a socket that cannot be non-blocking is closed: reads fail at once
  socket_.non_blocking(true, ignored);
}

bool TimedSocket::wait(bool reading, boost::system::error_code& ec) {
  using namespace std::chrono;
  const auto until = std::min(steady_clock::now() + timeout_, deadline_.value_or(steady_clock::time_point::max()));
  for (;;) {
    const auto left = duration_cast<milliseconds>(until - steady_clock::now()).count();
    if (left <= 0) break;
    pollfd fd{socket_.native_handle(), static_cast<short>(reading ? POLLIN : POLLOUT), 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(left));
    if (ready > 0) return true;  // readable, writable, or closed: the next attempt says which
    if (ready < 0 && errno != EINTR) {
      ec.assign(errno, boost::system::system_category());
      return false;
    }
  }
  ec = boost::asio::error::timed_out;
  return false;
}

}  // namespace dinet::serve
