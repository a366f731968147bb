#include "serve/web_files.h"

#include <algorithm>

#include "dinet/files.h"

namespace dinet::serve {

std::optional<std::string> web_file(const std::filesystem::path& web_dir, std::string_view name) {
  // Only names of the page's own shape: no folders, no dot files, nothing a path could hide in.
  const bool plain = !name.empty() && name.front() != '.' &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
                     });
  if (!plain) return std::nullopt;
  if (!web_dir.empty()) {
    const std::filesystem::path file = web_dir / std::string(name);
    if (!std::filesystem::is_regular_file(file)) return std::nullopt;
    return read_file(file);
  }
  for (const WebFile& f : built_in_web_files())
    if (f.name == name) return std::string(f.bytes);
  return std::nullopt;
}

std::string content_type_of(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext; };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

}  // namespace dinet::serve
