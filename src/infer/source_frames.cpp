#include "infer/source_frames.h"

#include <opencv2/imgcodecs.hpp>
#include <unistd.h>

#include <atomic>

#include "dinet/error.h"

namespace dinet::infer {
namespace fs = std::filesystem;

int64_t ping_pong_index(int64_t t, int64_t n) {
  const int64_t k = t % (2 * n);
  return k < n ? k : 2 * n - 1 - k;
}

SourceFrames::SourceFrames(const fs::path& video, int64_t source_frames, int64_t output_frames,
                           const fs::path& spill_dir)
    : video_(video), n_(source_frames), total_(output_frames), reader_(video) {
  if (total_ <= n_) return;  // the video is cut: nothing is played twice
  static std::atomic<int> counter{0};
  spill_path_ = spill_dir / (".dinet-frames-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter++) + ".spill");
  spill_.open(spill_path_, std::ios::in | std::ios::out | std::ios::trunc | std::ios::binary);
  if (!spill_) throw Error(spill_path_.string(), "cannot create the temporary frame file");
  records_.reserve(n_);
}

SourceFrames::~SourceFrames() {
  if (spill_path_.empty()) return;
  spill_.close();
  std::error_code ec;
  fs::remove(spill_path_, ec);
}

cv::Mat SourceFrames::next() {
  const int64_t t = t_++;
  cv::Mat frame;
  if (t < n_) {
    if (!reader_.read(frame))
      throw Error(video_.string(), "has " + std::to_string(t) + " frames at 25 fps, but its landmarks cover " +
                                       std::to_string(n_));
    if (spill_path_.empty()) return frame;
    std::vector<uchar> png;
    // Level 1: the spill is read back once per cycle, so speed matters more than size.
    cv::imencode(".png", frame, png, {cv::IMWRITE_PNG_COMPRESSION, 1});
    spill_.seekp(0, std::ios::end);
    records_.emplace_back(static_cast<uint64_t>(spill_.tellp()), png.size());
    spill_.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
    if (!spill_) throw Error(spill_path_.string(), "cannot write the temporary frame file (disk full?)");
    return frame;
  }
  const auto [offset, size] = records_.at(ping_pong_index(t, n_));
  std::vector<uchar> png(size);
  spill_.seekg(static_cast<std::streamoff>(offset));
  spill_.read(reinterpret_cast<char*>(png.data()), static_cast<std::streamsize>(size));
  if (!spill_) throw Error(spill_path_.string(), "cannot read the temporary frame file back");
  frame = cv::imdecode(png, cv::IMREAD_COLOR);
  if (frame.empty()) throw Error(spill_path_.string(), "a frame in the temporary file is damaged");
  return frame;
}

}  // namespace dinet::infer
