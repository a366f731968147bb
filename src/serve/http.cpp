#include "serve/http.h"

namespace dinet::serve {

Response json_response(http::status status, const nlohmann::json& body, unsigned version) {
  Response response(status, version);
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.body() = body.dump();
  response.prepare_payload();
  return response;
}

Response error_response(http::status status, const std::string& message, unsigned version) {
  return json_response(status, {{"error", message}}, version);
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::string> cookie(const Request& request, std::string_view name) {
  const auto header = request.find(http::field::cookie);
  if (header == request.end()) return std::nullopt;
  std::string_view rest(header->value().data(), header->value().size());
  while (!rest.empty()) {
    const size_t semi = rest.find(';');
    std::string_view pair = rest.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    if (semi == std::string_view::npos) break;
    rest = rest.substr(semi + 1);
  }
  return std::nullopt;
}

nlohmann::json json_body(const Request& request) {
  try {
    return nlohmann::json::parse(request.body());
  } catch (const nlohmann::json::parse_error& e) {
    throw ApiError(http::status::bad_request, std::string("the body is not JSON: ") + e.what());
  }
}

}  // namespace dinet::serve
