// The lip-sync scorer of `dinet evaluate` as the frames stream by: the windows it scores hold
// the right mouths and audio, and the mouths it holds at once do not grow with the video.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <cmath>

#include "dinet/error.h"
#include "dinet/networks.h"
#include "eval/sync_score.h"
#include "test_support.h"

namespace {

constexpr int64_t kMouth = 64, kChannels = 29;
constexpr int kMaxOffset = 3, kMaxWindows = 24;

dinet::SyncNet random_syncnet() {
  torch::manual_seed(3);
  dinet::SyncNet net(15, kChannels, 128);
  net->eval();
  return net;
}

// A mouth that depends only on its frame, so a test can make it again.
at::Tensor mouth_of(int64_t frame) {
  return torch::rand({3, kMouth, kMouth}, at::make_generator<at::CPUGeneratorImpl>(frame + 1));
}

// Frames 30..39 have no face.
std::vector<bool> faces(int64_t frames) {
  std::vector<bool> has_face(frames, true);
  for (int64_t i = 30; i < 40 && i < frames; ++i) has_face[i] = false;
  return has_face;
}

struct Streamed {
  dinet::SyncFigures figures;
  size_t peak_held = 0;
};

// Every wanted frame in order, as `dinet evaluate`'s read loop feeds them.
Streamed stream(dinet::SyncNet& net, int64_t frames, const at::Tensor& features) {
  dinet::eval::SyncScorer scorer(net, faces(frames), features, kMaxOffset, kMaxWindows);
  for (int64_t i = 0; i < frames; ++i)
    if (scorer.wants(i)) scorer.add(i, mouth_of(i));
  return {scorer.finish(), scorer.peak_held()};
}

}  // namespace

TEST(SyncScorer, HeldMouthsDoNotGrowWithTheVideo) {
  dinet::SyncNet net = random_syncnet();
  const Streamed short_video = stream(net, 200, torch::randn({200, kChannels}));
  const Streamed long_video = stream(net, 800, torch::randn({800, kChannels}));
  EXPECT_GT(short_video.peak_held, 0u);
  EXPECT_LE(short_video.peak_held, size_t(dinet::eval::SyncScorer::kMaxHeldMouths));
  EXPECT_LE(long_video.peak_held, size_t(dinet::eval::SyncScorer::kMaxHeldMouths));
  for (const Streamed& s : {short_video, long_video}) {
    int64_t scored = 0;
    for (double v : s.figures.score_by_frame) scored += std::isfinite(v);
    EXPECT_EQ(scored, kMaxWindows);
  }
}

TEST(SyncScorer, EachWindowScoresItsOwnMouthsAndAudio) {
  dinet::SyncNet net = random_syncnet();
  const int64_t frames = 120;
  const at::Tensor features = torch::randn({frames, kChannels});
  const Streamed s = stream(net, frames, features);
  ASSERT_EQ(s.figures.score_by_offset.size(), size_t(2 * kMaxOffset + 1));
  torch::NoGradGuard no_grad;
  double sum = 0;
  int64_t scored = 0;
  for (int64_t t = 0; t < frames; ++t) {
    const double score = s.figures.score_by_frame[t];
    if (!std::isfinite(score)) continue;
    // No window reaches a frame without a face, nor audio beyond the ends at any offset.
    EXPECT_TRUE(t + 2 < 30 || t - 2 >= 40) << t;
    EXPECT_GE(t - 4 - kMaxOffset, 0);
    EXPECT_LT(t + 4 + kMaxOffset, frames);
    std::vector<at::Tensor> window;
    for (int64_t k = t - 2; k <= t + 2; ++k) window.push_back(mouth_of(k));
    const at::Tensor mouths = torch::stack(window).reshape({1, 15, kMouth, kMouth});
    const at::Tensor audio = features.narrow(0, t - 4, 9).t().unsqueeze(0);
    EXPECT_NEAR(score, net->forward(mouths, audio).mean().item<double>(), 1e-5) << t;
    sum += score;
    ++scored;
  }
  ASSERT_GT(scored, 0);
  EXPECT_NEAR(s.figures.score, sum / scored, 1e-6);
}

TEST(SyncScorer, AVideoEndingBeforeItsWindowsIsAnError) {
  dinet::SyncNet net = random_syncnet();
  dinet::eval::SyncScorer scorer(net, faces(100), torch::randn({100, kChannels}), kMaxOffset, kMaxWindows);
  for (int64_t i = 0; i < 60; ++i)
    if (scorer.wants(i)) scorer.add(i, mouth_of(i));
  EXPECT_THROW(scorer.finish(), dinet::Error);
}

TEST(SyncScorer, TooFewFramesWithAFaceIsAnError) {
  dinet::SyncNet net = random_syncnet();
  const std::string message = dinet::test::error_of(
      [&] { dinet::eval::SyncScorer(net, std::vector<bool>(100, false), torch::randn({100, kChannels}), 3, 8); });
  EXPECT_NE(message.find("too few frames with a face"), std::string::npos);
}
