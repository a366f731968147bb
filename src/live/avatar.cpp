// Avatars: a video prepared once (frames, landmarks, a seamless loop) for live sessions.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <random>

#include <unistd.h>

#include "dinet/error.h"
#include "dinet/face_geometry.h"
#include "dinet/files.h"
#include "dinet/live.h"
#include "infer/references.h"
#include "infer/source_frames.h"
#include "infer/video_faces.h"

namespace dinet {
namespace fs = std::filesystem;

namespace {

constexpr double kFps = 25.0;
constexpr int kJpegQuality = 95;
// A cut loop must keep at least this much of the video (and 2 s), so it does not repeat fast.
constexpr double kMinLoopFraction = 1.0 / 3;
// Two frames count as alike when their landmarks differ by under this fraction of the
// inter-ocular distance on average and their 32x32 grey thumbnails by under this many levels.
constexpr double kAlikeLandmarks = 0.03, kAlikePixels = 3.0;

std::string frame_name(int64_t t) {
  char name[32];
  std::snprintf(name, sizeof name, "%06lld.jpg", static_cast<long long>(t));
  return name;
}

double landmark_distance(const FaceLandmarks& a, const FaceLandmarks& b) {
  double sum = 0;
  for (size_t k = 0; k < a.size(); ++k) sum += std::hypot(a[k].x - b[k].x, a[k].y - b[k].y);
  return sum / a.size() / std::max(1.0, inter_ocular_distance(a));
}

struct LoopChoice {
  AvatarLoop loop;
  double landmarks = 0, pixels = 0;  // the cut's two frames' differences
};

// The most alike pair of frames at least the minimum loop apart; ping-pong when none is alike.
LoopChoice choose_loop(const LandmarkTrack& track, const std::vector<cv::Mat>& thumbs) {
  const auto n = static_cast<int64_t>(track.size());
  LoopChoice best;
  best.loop.end = n;
  const int64_t min_length = std::max<int64_t>(static_cast<int64_t>(2 * kFps), std::llround(n * kMinLoopFraction));
  double best_score = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    if (!track.success[i]) continue;
    for (int64_t j = i + min_length; j < n; ++j) {
      if (!track.success[j]) continue;
      const double lm = landmark_distance(track.frames[i], track.frames[j]);
      if (lm >= kAlikeLandmarks) continue;
      const double px = cv::norm(thumbs[i], thumbs[j], cv::NORM_L1) / double(thumbs[i].total());
      if (px >= kAlikePixels) continue;
      // Longer loops repeat less often: a small preference for them.
      const double score = (lm / kAlikeLandmarks + px / kAlikePixels) * (1.0 - 0.2 * double(j - i) / n);
      if (score < best_score) {
        best_score = score;
        best.loop = {"cut", i, j};
        best.landmarks = lm;
        best.pixels = px;
      }
    }
  }
  return best;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

int64_t AvatarLoop::frame_at(int64_t t) const {
  if (kind == "cut") return begin + t % std::max<int64_t>(1, end - begin);
  return infer::ping_pong_index(t, end);
}

cv::Mat Avatar::frame(int64_t index) const {
  cv::Mat bgr = cv::imdecode(jpeg.at(index), cv::IMREAD_COLOR);
  if (bgr.empty()) throw Error((dir / "frames" / frame_name(index)).string(), "not a readable JPEG");
  return bgr;
}

at::Tensor Avatar::references(int mouth_region_size) const {
  const FaceSize size = face_size(mouth_region_size);
  const std::vector<int64_t> chosen =
      infer::choose_reference_frames(track, windows, {width, height}, frames(), /*seed=*/0);
  if (chosen.empty()) throw Error(dir.string(), "the avatar has no frame with a face");
  std::vector<at::Tensor> faces;
  for (int64_t t : chosen) faces.push_back(infer::face_tensor(crop_face(frame(t), *windows[t], size.size())));
  return torch::cat(faces, 0).unsqueeze(0);
}

void prepare_avatar(const fs::path& video, const fs::path& dir, const AvatarOptions& options) {
  require_file(video, "avatar video");
  if (fs::exists(dir)) throw Error(dir.string(), "already exists");
  const fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  fs::create_directories(parent);
  const fs::path temp = parent / (dir.filename().string() + ".preparing-" + std::to_string(::getpid()));
  fs::remove_all(temp);
  fs::create_directories(temp / "frames");
  try {
    // Decode (capped), scale, store the frames; the detector reads the same scaled frames
    // from a temporary high-quality video.
    VideoReader reader(video, kFps);
    const int64_t cap = std::max<int64_t>(1, std::llround(options.max_seconds * kFps));
    std::vector<cv::Mat> thumbs;
    cv::Size size;
    double scale = 1;
    {
      std::unique_ptr<VideoWriter> writer;
      VideoWriterOptions writer_options;
      writer_options.crf = 10;
      cv::Mat frame;
      for (int64_t t = 0; t < cap && reader.read(frame); ++t) {
        const int side = std::max(frame.cols, frame.rows);
        if (options.max_side > 0 && side > options.max_side) {
          scale = double(options.max_side) / side;
          // Even sizes, so the H.264 writers downstream need no padding.
          const cv::Size scaled(std::max(2, int(std::lround(frame.cols * scale / 2)) * 2),
                                std::max(2, int(std::lround(frame.rows * scale / 2)) * 2));
          scale = double(scaled.width) / frame.cols;
          cv::resize(frame, frame, scaled, 0, 0, cv::INTER_AREA);
        }
        if (size.empty()) size = frame.size();
        if (!writer && options.landmark_csv.empty())
          writer = std::make_unique<VideoWriter>(temp / "detect.mp4", size.width, size.height, writer_options);
        if (writer) writer->write(frame);
        std::vector<uint8_t> bytes;
        cv::imencode(".jpg", frame, bytes, {cv::IMWRITE_JPEG_QUALITY, kJpegQuality});
        write_file_atomic(temp / "frames" / frame_name(t), std::string(bytes.begin(), bytes.end()));
        cv::Mat grey, thumb;
        cv::cvtColor(frame, grey, cv::COLOR_BGR2GRAY);
        cv::resize(grey, thumb, {32, 32}, 0, 0, cv::INTER_AREA);
        thumbs.push_back(thumb);
      }
      if (size.empty()) throw Error(video.string(), "no frames");
      if (writer) writer->finish();
    }
    infer::FaceOptions face_options;  // default windows: load_avatar makes the same
    face_options.show_progress = options.show_progress;
    std::unique_ptr<LandmarkModel> detector;
    infer::VideoFaces faces;
    if (!options.landmark_csv.empty()) {
      // The given landmarks, scaled like the frames.
      faces.track = read_openface_csv(options.landmark_csv);
      if (faces.track.size() < thumbs.size() && reader.info().frame_count > static_cast<int64_t>(faces.track.size()) + 1)
        throw Error(options.landmark_csv.string(), "has " + std::to_string(faces.track.size()) +
                                                       " frames of landmarks, fewer than the video's " +
                                                       std::to_string(reader.info().frame_count));
      fill_gaps(faces.track, 10);
      for (auto& points : faces.track.frames)
        for (auto& p : points) p *= static_cast<float>(scale);
      faces.windows = crop_windows(faces.track);
    } else {
      try {
        faces = infer::video_faces(temp / "detect.mp4", face_options, options.landmark_model, detector);
      } catch (const Error& e) {
        throw Error(video.string(), std::string("no usable face for an avatar (") + e.what() + ")");
      }
    }
    if (options.landmark_csv.empty()) fs::remove(temp / "detect.mp4");
    // The track may be a frame shorter or longer than the frames stored.
    const auto n = std::min<int64_t>(faces.frames(), static_cast<int64_t>(thumbs.size()));
    faces.track.frames.resize(n);
    faces.track.success.resize(n);
    faces.track.confidence.resize(n);
    for (int64_t t = n; t < static_cast<int64_t>(thumbs.size()); ++t) fs::remove(temp / "frames" / frame_name(t));
    thumbs.resize(n);
    if (infer::choose_reference_frames(faces.track, crop_windows(faces.track), size, n, 0).empty())
      throw Error(video.string(), "no usable face for an avatar");
    write_openface_csv(temp / "landmarks.csv", faces.track, kFps);

    const LoopChoice loop = choose_loop(faces.track, thumbs);
    nlohmann::json meta = {
        {"source", video.filename().string()},
        {"frames", n},
        {"width", size.width},
        {"height", size.height},
        {"fps", kFps},
        {"created", utc_now()},
        {"frames_format", "frames/NNNNNN.jpg, JPEG quality " + std::to_string(kJpegQuality)},
        {"loop",
         {{"kind", loop.loop.kind},
          {"begin", loop.loop.begin},
          {"end", loop.loop.end},
          {"landmark_difference_iod", loop.landmarks},
          {"pixel_difference", loop.pixels}}},
    };
    write_file_atomic(temp / "avatar.json", meta.dump(2) + "\n");
    fs::rename(temp, dir);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    throw;
  }
}

Avatar load_avatar(const fs::path& dir) {
  const fs::path meta_file = dir / "avatar.json";
  if (!fs::is_regular_file(meta_file)) throw Error(dir.string(), "not an avatar (no avatar.json)");
  Avatar avatar;
  avatar.dir = dir;
  int64_t frames = 0;
  try {
    const nlohmann::json meta = nlohmann::json::parse(read_file(meta_file));
    avatar.source_name = meta.at("source").get<std::string>();
    frames = meta.at("frames").get<int64_t>();
    avatar.width = meta.at("width").get<int>();
    avatar.height = meta.at("height").get<int>();
    const auto& loop = meta.at("loop");
    avatar.loop.kind = loop.at("kind").get<std::string>();
    avatar.loop.begin = loop.at("begin").get<int64_t>();
    avatar.loop.end = loop.at("end").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(meta_file.string(), std::string("malformed: ") + e.what());
  }
  if (frames < 1 || avatar.loop.begin < 0 || avatar.loop.end > frames || avatar.loop.begin >= avatar.loop.end ||
      (avatar.loop.kind != "cut" && avatar.loop.kind != "ping_pong"))
    throw Error(meta_file.string(), "frame count or loop out of range");
  avatar.track = read_openface_csv(dir / "landmarks.csv", frames);
  avatar.windows = crop_windows(avatar.track);
  for (int64_t t = 0; t < frames; ++t) {
    const std::string bytes = read_file(dir / "frames" / frame_name(t));
    avatar.jpeg.emplace_back(bytes.begin(), bytes.end());
  }
  return avatar;
}

}  // namespace dinet
