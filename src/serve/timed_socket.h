// A connection's socket for Beast's blocking reads and writes, with the client timeout made
// real: each read or write gives up after `timeout` of silence, and a request header must
// arrive whole within `timeout` of its wait starting (a client trickling a header byte by byte
// holds no connection). SO_RCVTIMEO cannot do this: asio's blocking calls, on the EAGAIN it
// gives, wait in poll() without end, so a client that stalled would hold its thread for ever.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <optional>

namespace dinet::serve {

class TimedSocket {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  // Puts `socket` in non-blocking mode: every wait is then one of ours.
  TimedSocket(boost::asio::ip::tcp::socket& socket, std::chrono::milliseconds timeout);

  boost::asio::ip::tcp::socket& socket() { return socket_; }
  executor_type get_executor() { return socket_.get_executor(); }

  // Until end_deadline(), reads and writes also end `timeout` from now.
  void start_deadline() { deadline_ = std::chrono::steady_clock::now() + timeout_; }
  void end_deadline() { deadline_.reset(); }

  // Beast's SyncReadStream and SyncWriteStream; a timeout is boost::asio::error::timed_out.
  template <class Buffers>
  size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
    return transfer(true, ec, [&] { return socket_.read_some(buffers, ec); });
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
    return transfer(false, ec, [&] { return socket_.write_some(buffers, ec); });
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    boost::system::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    boost::system::error_code ec;
    const size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  template <class Transfer>
  size_t transfer(bool reading, boost::system::error_code& ec, Transfer attempt) {
    for (;;) {
      const size_t n = attempt();
      if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) return n;
      if (!wait(reading, ec)) return 0;
    }
  }
  // Until the socket is ready; false with ec = timed_out when the time is up.
  bool wait(bool reading, boost::system::error_code& ec);

  boost::asio::ip::tcp::socket& socket_;
  std::chrono::milliseconds timeout_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

}  // namespace dinet::serve
