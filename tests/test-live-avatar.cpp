// Avatars: prepared once from a video, read back, with a loop that does not jump.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "dinet/files.h"
#include "dinet/live.h"
#include "infer_test_support.h"

namespace {
namespace fs = std::filesystem;
using dinet::test::TempDir;

TEST(LiveAvatar, PrepareAndLoadRoundTrip) {
  TempDir dir;
  const auto clip = dinet::test::make_synth_clip(dir.path(), 4.0, 192);
  dinet::AvatarOptions options;
  options.landmark_csv = clip.csv;
  options.max_side = 160;  // scaled down: the landmarks follow
  dinet::prepare_avatar(clip.video, dir / "avatar", options);
  EXPECT_TRUE(fs::exists(dir / "avatar" / "avatar.json"));
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find(".preparing"), std::string::npos) << "temporary left behind";

  const dinet::Avatar avatar = dinet::load_avatar(dir / "avatar");
  EXPECT_EQ(avatar.frames(), 100);
  EXPECT_EQ(avatar.width, 160);
  EXPECT_EQ(avatar.height, 160);
  EXPECT_EQ(avatar.source_name, clip.video.filename().string());
  EXPECT_EQ(avatar.track.size(), 100u);
  // The stored frames are the video's, scaled (JPEG and H.264 differ a little).
  const auto source = dinet::test::read_all_frames(clip.video);
  cv::Mat scaled;
  cv::resize(source[10], scaled, {160, 160}, 0, 0, cv::INTER_AREA);
  EXPECT_LT(cv::norm(avatar.frame(10), scaled, cv::NORM_L1) / scaled.total() / 3, 3.0);
  // The landmarks were scaled with the frames: the nose tip stays on the same picture point.
  const auto original = dinet::read_openface_csv(clip.csv);
  EXPECT_NEAR(avatar.track.frames[10][30].x, original.frames[10][30].x * 160.0 / 192, 0.01);
  const at::Tensor references = avatar.references(64);
  EXPECT_EQ(references.sizes(), (at::IntArrayRef{1, 15, 104, 80}));
  if (avatar.loop.kind == "ping_pong") {  // every frame, then back
    EXPECT_EQ(avatar.loop.frame_at(0), 0);
    EXPECT_EQ(avatar.loop.frame_at(99), 99);
    EXPECT_EQ(avatar.loop.frame_at(100), 98);
  } else {
    EXPECT_EQ(avatar.loop.kind, "cut");
    EXPECT_GE(avatar.loop.end - avatar.loop.begin, 50);  // at least 2 s
  }

  // Never over an existing avatar.
  EXPECT_NE(dinet::test::error_of([&] { dinet::prepare_avatar(clip.video, dir / "avatar", options); })
                .find("already exists"),
            std::string::npos);
}

TEST(LiveAvatar, CutsTheLoopWhereTheVideoComesBack) {
  TempDir dir;
  const auto clip = dinet::test::make_synth_clip(dir.path(), 3.0, 128);
  // Frames 0..59 twice: frame 60 is frame 0 again, so a loop of 60 frames is seamless.
  const auto frames = dinet::test::read_all_frames(clip.video);
  const dinet::LandmarkTrack track = dinet::read_openface_csv(clip.csv);
  dinet::LandmarkTrack doubled;
  {
    dinet::VideoWriter writer(dir / "twice.mp4", 128, 128);
    for (int pass = 0; pass < 2; ++pass)
      for (int t = 0; t < 60; ++t) {
        writer.write(frames[t]);
        doubled.frames.push_back(track.frames[t]);
        doubled.success.push_back(track.success[t]);
        doubled.confidence.push_back(track.confidence[t]);
      }
    writer.finish();
  }
  dinet::write_openface_csv(dir / "twice.csv", doubled);
  dinet::AvatarOptions options;
  options.landmark_csv = dir / "twice.csv";
  dinet::prepare_avatar(dir / "twice.mp4", dir / "avatar", options);
  const dinet::Avatar avatar = dinet::load_avatar(dir / "avatar");
  EXPECT_EQ(avatar.loop.kind, "cut");
  EXPECT_EQ(avatar.loop.end - avatar.loop.begin, 60);
  EXPECT_EQ(avatar.loop.frame_at(60), avatar.loop.begin);
}

TEST(LiveAvatar, DetectsTheLandmarksOfARealClip) {
  if (dinet::test::shared_dir().empty()) GTEST_SKIP() << "../shared is absent";
  TempDir dir;
  const fs::path video = dinet::test::shared_dir() / "data" / "real" / "mimictalk_German_20s.mp4";
  dinet::AvatarOptions options;
  options.max_seconds = 2;
  dinet::prepare_avatar(video, dir / "avatar", options);
  const dinet::Avatar avatar = dinet::load_avatar(dir / "avatar");
  EXPECT_EQ(avatar.frames(), 50);
  EXPECT_EQ(avatar.width, 512);  // under max_side: kept
  int64_t with_face = 0;
  for (const auto& window : avatar.windows) with_face += window.has_value();
  EXPECT_EQ(with_face, 50);
  EXPECT_EQ(avatar.references(128).sizes(), (at::IntArrayRef{1, 15, 208, 160}));
  const nlohmann::json meta = nlohmann::json::parse(dinet::read_file(dir / "avatar" / "avatar.json"));
  EXPECT_EQ(meta.at("source"), "mimictalk_German_20s.mp4");
  EXPECT_EQ(meta.at("fps"), 25.0);
  EXPECT_TRUE(meta.contains("created"));
}

TEST(LiveAvatar, AVideoWithoutAFaceIsNamed) {
  TempDir dir;
  {
    dinet::VideoWriter writer(dir / "wall.mp4", 128, 128);
    for (int t = 0; t < 25; ++t) writer.write(cv::Mat(128, 128, CV_8UC3, cv::Scalar(90, 120, 150)));
    writer.finish();
  }
  const std::string error = dinet::test::error_of([&] { dinet::prepare_avatar(dir / "wall.mp4", dir / "avatar"); });
  EXPECT_NE(error.find("wall.mp4"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dir / "avatar"));
  EXPECT_NE(dinet::test::error_of([&] { dinet::load_avatar(dir / "avatar"); }).find("avatar.json"), std::string::npos);
}

}  // namespace
