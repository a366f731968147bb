#include "dinet/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>

#include "dinet/error.h"

namespace dinet {
namespace fs = std::filesystem;

AtomicFile::AtomicFile(fs::path final_path) : final_(std::move(final_path)) {
  static std::atomic<int> counter{0};
  const std::string tag = ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  temp_ = final_;
  temp_.replace_filename(final_.stem().string() + tag + final_.extension().string());
  if (final_.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(final_.parent_path(), ec);
    if (ec) throw Error(final_.parent_path().string(), "cannot create directory: " + ec.message());
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void AtomicFile::commit() {
  // The data reaches the disk before the name does, so a crash cannot leave a final name on
  // an empty or partial file.
  if (const int fd = ::open(temp_.c_str(), O_RDONLY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  if (ec) throw Error(final_.string(), "cannot move the finished file into place: " + ec.message());
  committed_ = true;
}

void write_file_atomic(const fs::path& path, const std::string& bytes) {
  AtomicFile file(path);
  {
    std::ofstream out(file.temp_path(), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw Error(path.string(), "write failed");
  }
  file.commit();
}

std::string read_file(const fs::path& path) {
  require_file(path);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) throw Error(path.string(), "read failed");
  return ss.str();
}

void require_file(const fs::path& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path.string(), "no such " + what);
  if (!fs::is_regular_file(path, ec)) throw Error(path.string(), "not a regular file");
}

void remove_dead_temporaries(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  // AtomicFile's temporaries and infer's spilled source frames (source_frames.cpp).
  static const std::regex temporary(R"(.*\.tmp-(\d+)-\d+(\.[A-Za-z0-9]+)?|\.dinet-frames-(\d+)-\d+\.spill)");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, m, temporary)) continue;
    const std::string pid = m[1].matched ? m[1].str() : m[3].str();
    if (fs::exists("/proc/" + pid, ec)) continue;  // its writer may still be running
    fs::remove(entry.path(), ec);
  }
}


}  // namespace dinet
