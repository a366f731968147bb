#include "serve/multipart.h"

#include "serve/http.h"

namespace dinet::serve {
namespace {

[[noreturn]] void bad(const std::string& why) {
  throw ApiError(http::status::bad_request, "the upload is not valid multipart/form-data: " + why);
}

// The value of `key="..."` (or key=token) in a header such as Content-Disposition.
std::string header_parameter(std::string_view header, std::string_view key) {
  for (size_t at = header.find(key); at != std::string_view::npos; at = header.find(key, at + 1)) {
    // A whole parameter name: preceded by ';' or ' ', followed by '='.
    if (at > 0 && header[at - 1] != ';' && header[at - 1] != ' ') continue;
    size_t v = at + key.size();
    if (v >= header.size() || header[v] != '=') continue;
    ++v;
    if (v < header.size() && header[v] == '"') {
      const size_t end = header.find('"', v + 1);
      if (end == std::string_view::npos) bad("an unterminated quoted parameter");
      return std::string(header.substr(v + 1, end - v - 1));
    }
    const size_t end = header.find(';', v);
    return std::string(header.substr(v, end == std::string_view::npos ? std::string_view::npos : end - v));
  }
  return "";
}

}  // namespace

std::vector<FormPart> parse_multipart(std::string_view body, std::string_view content_type) {
  if (content_type.substr(0, 19) != "multipart/form-data")
    throw ApiError(http::status::unsupported_media_type,
                   "send the files as multipart/form-data (a form, or curl -F)");
  const std::string boundary = header_parameter(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) bad("no boundary");
  const std::string delimiter = "--" + boundary;

  std::vector<FormPart> parts;
  size_t at = body.find(delimiter);
  if (at == std::string_view::npos) bad("no part");
  for (;;) {
    at += delimiter.size();
    if (body.substr(at, 2) == "--") break;  // the closing delimiter
    if (body.substr(at, 2) != "\r\n") bad("a delimiter not followed by a line break");
    at += 2;
    const size_t headers_end = body.find("\r\n\r\n", at);
    if (headers_end == std::string_view::npos) bad("a part without headers");
    FormPart part;
    std::string_view headers = body.substr(at, headers_end - at);
    while (!headers.empty()) {
      const size_t eol = headers.find("\r\n");
      const std::string_view line = headers.substr(0, eol);
      const size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string key(line.substr(0, colon));
        for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (key == "content-disposition") {
          part.name = header_parameter(line.substr(colon + 1), "name");
          part.filename = header_parameter(line.substr(colon + 1), "filename");
        }
      }
      if (eol == std::string_view::npos) break;
      headers = headers.substr(eol + 2);
    }
    const size_t content = headers_end + 4;
    const size_t next = body.find("\r\n" + delimiter, content);
    if (next == std::string_view::npos) bad("a part without its closing delimiter");
    part.body = body.substr(content, next - content);
    if (part.name.empty()) bad("a part without a name");
    parts.push_back(std::move(part));
    at = next + 2;
  }
  return parts;
}

}  // namespace dinet::serve
