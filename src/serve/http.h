// The HTTP vocabulary of the server: Boost.Beast's request and response types, the JSON
// error every bad request gets, and the few pieces of a request the routes read.
#pragma once

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dinet::serve {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Thrown by a route: answered as {"error": message} with `status`; the server stays up.
class ApiError : public std::runtime_error {
 public:
  ApiError(http::status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  http::status status() const { return status_; }

 private:
  http::status status_;
};

Response json_response(http::status status, const nlohmann::json& body, unsigned version = 11);
Response error_response(http::status status, const std::string& message, unsigned version = 11);

// Beast's string views (boost::string_view in Boost 1.74) as the standard one.
inline std::string_view to_std(boost::beast::string_view s) { return {s.data(), s.size()}; }
inline std::string_view target_of(const Request& request) { return to_std(request.target()); }

// The value of a header, "" when the request has none.
inline std::string_view header_value(const Request& request, http::field field) {
  const auto it = request.find(field);
  return it == request.end() ? std::string_view() : to_std(it->value());
}

// "/api/jobs/x?y=1" -> "/api/jobs/x".
std::string_view path_of(std::string_view target);
// The value of `name` in the target's query string, percent-decoding not needed for the
// values we read (ids and tokens); nullopt when absent.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);
// The value of cookie `name`; nullopt when absent.
std::optional<std::string> cookie(const Request& request, std::string_view name);
// The body as JSON; ApiError 400 naming what is wrong when it is not.
nlohmann::json json_body(const Request& request);

}  // namespace dinet::serve
