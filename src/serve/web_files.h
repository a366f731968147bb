// The page's files (web/ in the repository), built into the program by cmake/embed_web.cmake,
// or read from a folder given with --web_dir while working on the page.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dinet::serve {

struct WebFile {
  std::string_view name;  // "index.html"
  std::string_view bytes;
};

const std::vector<WebFile>& built_in_web_files();

// The bytes of the file `name` (a plain file name, no folders), from `web_dir` when given,
// else built in; nullopt when there is none.
std::optional<std::string> web_file(const std::filesystem::path& web_dir, std::string_view name);
// "text/html; charset=utf-8" and so on, by extension.
std::string content_type_of(std::string_view name);

}  // namespace dinet::serve
