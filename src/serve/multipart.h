// multipart/form-data, as a browser's form or `curl -F` sends files (RFC 7578).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dinet::serve {

struct FormPart {
  std::string name;       // the form field
  std::string filename;   // as the client named it: shown, never used as a path
  std::string_view body;  // a view into the request body
};

// The parts of `body`; throws ApiError 400 when `content_type` is not multipart/form-data
// with a boundary or the body is not well formed.
std::vector<FormPart> parse_multipart(std::string_view body, std::string_view content_type);

}  // namespace dinet::serve
