// File-system helpers shared by every writer: outputs appear complete or not at all,
// and nothing the user gave us is overwritten by accident.
#pragma once

#include <filesystem>
#include <string>

namespace dinet {

// A file written under a temporary name beside its final path and renamed on commit().
// Destroyed without commit() (an exception, Ctrl-C unwinding), the temporary is removed,
// so a reader never sees a half-written output.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path final_path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Where to write. Keeps the final extension (".tmp-<pid>-<n>.mp4"), so libraries that
  // choose a format by extension still do the right thing.
  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& final_path() const { return final_; }
  // Renames the temporary over the final path (atomic on one file system).
  void commit();

 private:
  std::filesystem::path final_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

// Writes `bytes` to `path` atomically (temporary name, then rename).
void write_file_atomic(const std::filesystem::path& path, const std::string& bytes);

// Deletes the temporaries (AtomicFile's ".tmp-<pid>-<n>" names, infer's ".dinet-frames-<pid>-<n>.spill")
// left in `dir` by writers that were killed: their process is gone. A live writer's temporary is
// never touched, nor any other file.
void remove_dead_temporaries(const std::filesystem::path& dir);

// Reads a whole file; throws dinet::Error naming the file when it cannot.
std::string read_file(const std::filesystem::path& path);

// Throws dinet::Error("<path>: no such file") unless `path` is a readable regular file.
void require_file(const std::filesystem::path& path, const std::string& what = "file");

}  // namespace dinet
