// The parts of `dinet infer` that carry the published behaviour: the ping-pong frame order,
// the padded 5-frame feature windows, the reference frame choice and the spill that lets
// a short video play backwards without holding its frames in memory.
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <set>

#include "dinet/error.h"
#include "dinet/media.h"
#include "infer/pipeline.h"
#include "infer/references.h"
#include "infer/source_frames.h"
#include "test_support.h"

namespace dinet {
namespace {

TEST(InferPieces, PingPongPlaysForwardsThenBackwards) {
  std::vector<int64_t> order;
  for (int64_t t = 0; t < 11; ++t) order.push_back(infer::ping_pong_index(t, 4));
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2}));
  EXPECT_EQ(infer::ping_pong_index(3, 10), 3);  // a long source is simply cut
}

TEST(InferPieces, FeatureWindowsArePaddedByTheEdgeRows) {
  const at::Tensor features = torch::arange(6, torch::kFloat).view({3, 2});  // rows [0 1] [2 3] [4 5]
  const at::Tensor padded = infer::pad_features(features);
  ASSERT_EQ(padded.size(0), 7);
  // Output frame 0 sees rows 0, 0, 0, 1, 2 and the last frame 0, 1, 2, 2, 2: centred on
  // its own row, edges repeated.
  EXPECT_TRUE(torch::equal(padded.narrow(0, 0, 5).select(1, 0), torch::tensor({0.f, 0.f, 0.f, 2.f, 4.f})));
  EXPECT_TRUE(torch::equal(padded.narrow(0, 2, 5).select(1, 1), torch::tensor({1.f, 3.f, 5.f, 5.f, 5.f})));
}

// A track whose mouth opens linearly over the frames, every frame with a window.
struct OpeningTrack {
  LandmarkTrack track;
  std::vector<std::optional<CropWindow>> windows;
};

OpeningTrack opening_track(int n) {
  OpeningTrack o;
  for (int t = 0; t < n; ++t) {
    FaceLandmarks f;
    f.fill({100, 100});
    f[48] = {80, 150};
    f[54] = {120, 150};
    const float gap = 20.f * t / (n - 1);
    for (int k : {61, 62, 63}) f[k] = {100, 150 - gap / 2};
    for (int k : {65, 66, 67}) f[k] = {100, 150 + gap / 2};
    o.track.frames.push_back(f);
    o.track.success.push_back(1);
    o.track.confidence.push_back(0.9f);
    o.windows.push_back(CropWindow{cv::Rect2f(50, 50, 100, 130), 40});
  }
  return o;
}

TEST(InferPieces, ReferencesSpreadOverMouthOpeningsAndFollowTheSeed) {
  OpeningTrack o = opening_track(100);
  const auto chosen = infer::choose_reference_frames(o.track, o.windows, {400, 400}, 100, 7);
  ASSERT_EQ(chosen.size(), 5u);
  // One per quintile of opening (here: of frame index).
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_GE(chosen[k], int64_t(20 * k));
    EXPECT_LT(chosen[k], int64_t(20 * (k + 1)));
  }
  EXPECT_EQ(chosen, infer::choose_reference_frames(o.track, o.windows, {400, 400}, 100, 7));
  EXPECT_NE(chosen, infer::choose_reference_frames(o.track, o.windows, {400, 400}, 100, 8));
}

TEST(InferPieces, ReferencesAvoidUnconfidentFramesAndUnusedOnes) {
  OpeningTrack o = opening_track(100);
  for (int t = 0; t < 100; t += 2) o.track.confidence[t] = 0.3f;  // interpolated, say
  o.windows[99].reset();
  const auto chosen = infer::choose_reference_frames(o.track, o.windows, {400, 400}, 60, 1);
  for (int64_t t : chosen) {
    EXPECT_EQ(t % 2, 1) << "frame " << t << " has low confidence";
    EXPECT_LT(t, 60) << "frame " << t << " is not in the result";
  }
  OpeningTrack one = opening_track(3);
  one.windows[0].reset();
  one.windows[2].reset();
  EXPECT_EQ(infer::choose_reference_frames(one.track, one.windows, {400, 400}, 3, 0),
            (std::vector<int64_t>(5, 1)));
  one.windows[1].reset();
  EXPECT_TRUE(infer::choose_reference_frames(one.track, one.windows, {400, 400}, 3, 0).empty());
}

TEST(InferPieces, SpilledFramesComeBackExactlyInPingPongOrder) {
  test::TempDir dir;
  const auto video = dir / "counter.mp4";
  {
    VideoWriter writer(video, 64, 48);
    for (int k = 0; k < 6; ++k) writer.write(cv::Mat(48, 64, CV_8UC3, cv::Scalar::all(20 + 40 * k)));
    writer.finish();
  }
  std::vector<cv::Mat> decoded;
  {
    VideoReader reader(video);
    for (cv::Mat f; reader.read(f);) decoded.push_back(f.clone());
  }
  ASSERT_EQ(decoded.size(), 6u);
  {
    infer::SourceFrames frames(video, 6, 20, dir.path());
    for (int64_t t = 0; t < 20; ++t) {
      const cv::Mat frame = frames.next();
      EXPECT_EQ(cv::norm(frame, decoded[infer::ping_pong_index(t, 6)], cv::NORM_INF), 0) << "output frame " << t;
    }
  }
  // The spill file is gone with the reader; only the video is left.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(InferPieces, AVideoShorterThanItsLandmarksIsAnError) {
  test::TempDir dir;
  const auto video = dir / "short.mp4";
  {
    VideoWriter writer(video, 64, 48);
    for (int k = 0; k < 3; ++k) writer.write(cv::Mat(48, 64, CV_8UC3, cv::Scalar::all(100)));
    writer.finish();
  }
  infer::SourceFrames frames(video, 5, 5, dir.path());
  for (int k = 0; k < 3; ++k) frames.next();
  EXPECT_THROW(frames.next(), Error);
}

}  // namespace
}  // namespace dinet
