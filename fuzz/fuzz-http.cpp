// What `dinet serve` reads from a request before a route acts on it (serve/http.cpp,
// multipart.cpp): Beast's parser with the server's header limit, then the target's path and
// query, the cookie, a JSON body, a multipart upload. The routes answer ApiError (a 4xx) to
// bad input, so that is accepted here as dinet::Error is.
#include <boost/asio/buffer.hpp>

#include "fuzz_input.h"
#include "serve/http.h"
#include "serve/multipart.h"

namespace http = dinet::serve::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  const dinet::serve::Request request = parser.release();
  const std::string_view target = dinet::serve::target_of(request);
  auto reject = [](auto&& route) {
    try {
      route();
    } catch (const dinet::serve::ApiError&) {
    }
  };
  dinet::serve::path_of(target);
  dinet::serve::query_parameter(target, "token");
  dinet::serve::cookie(request, "dinet_token");
  reject([&] { dinet::serve::json_body(request); });
  reject([&] {
    dinet::serve::parse_multipart(request.body(), dinet::serve::header_value(request, http::field::content_type));
  });
  return 0;
}
