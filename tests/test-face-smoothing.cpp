// Gap filling and zero-lag smoothing on synthetic tracks, where the truth is known.
#include <cmath>
#include <numbers>
#include <random>

#include "dinet/face.h"
#include "face_synthetic.h"
#include "test_support.h"

using namespace dinet;

namespace {

// A talking head: slow sway (0.5 Hz), a nod (1.5 Hz) and the mouth opening at 4 Hz.
FaceLandmarks truth_at(int t) {
  const double s = t / 25.0;
  const float x = 256 + 12 * float(std::sin(2 * std::numbers::pi * 0.5 * s));
  const float y = 240 + 6 * float(std::sin(2 * std::numbers::pi * 1.5 * s));
  const float open = 0.5f + 0.5f * float(std::sin(2 * std::numbers::pi * 4 * s));
  return test::synthetic_face(x, y, 200, open);
}

LandmarkTrack noisy_track(int frames, float noise_px, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, noise_px);
  LandmarkTrack track;
  for (int t = 0; t < frames; ++t) {
    FaceLandmarks f = truth_at(t);
    for (auto& p : f) p += cv::Point2f(noise(rng), noise(rng));
    track.frames.push_back(f);
    track.success.push_back(1);
    track.confidence.push_back(0.9f);
  }
  return track;
}

double mouth_opening(const FaceLandmarks& f) { return cv::norm(f[66] - f[62]); }

}  // namespace

TEST(FillGaps, ShortGapsAreInterpolatedLongOnesReported) {
  LandmarkTrack track = noisy_track(60, 0);
  for (int t : {0, 1, 10, 11, 12}) track.success[t] = 0;  // at the start, and inside
  for (int t = 20; t < 45; ++t) track.success[t] = 0;      // too long
  track.success[59] = 0;                                   // at the end
  int64_t filled = 0;
  const auto gaps = fill_gaps(track, 10, &filled);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].begin, 20);
  EXPECT_EQ(gaps[0].end, 45);
  EXPECT_EQ(filled, 6);
  for (int t : {0, 1, 10, 11, 12, 59}) {
    EXPECT_EQ(track.success[t], 1) << t;
    EXPECT_FLOAT_EQ(track.confidence[t], 0.45f) << t;
  }
  EXPECT_EQ(track.success[30], 0);
  EXPECT_EQ(track.frames[0][30], track.frames[2][30]);  // the nearest face at the ends
  EXPECT_EQ(track.frames[59][30], track.frames[58][30]);
  // Linear in between: frame 11 is half way between frames 9 and 13.
  const cv::Point2f mid = (track.frames[9][30] + track.frames[13][30]) * 0.5f;
  EXPECT_NEAR(track.frames[11][30].x, mid.x, 1e-3);
  EXPECT_NEAR(track.frames[11][30].y, mid.y, 1e-3);
}

TEST(SmoothTrack, RemovesJitterWithoutLagAndKeepsTheMouthMoving) {
  const int n = 250;
  LandmarkTrack track = noisy_track(n, 1.0f);
  const double raw_jitter = landmark_jitter(track);
  smooth_track(track);
  const double smooth_jitter = landmark_jitter(track);
  EXPECT_LT(smooth_jitter, 0.5 * raw_jitter);

  double raw_error = 0, smooth_error = 0, mouth_truth = 0, mouth_cross = 0, mouth_smooth = 0;
  const LandmarkTrack raw = noisy_track(n, 1.0f);
  for (int t = 0; t < n; ++t) {
    const FaceLandmarks truth = truth_at(t);
    for (int k : {27, 28, 29, 30, 33, 36, 39, 42, 45}) {  // the still points
      raw_error += cv::norm(raw.frames[t][k] - truth[k]);
      smooth_error += cv::norm(track.frames[t][k] - truth[k]);
    }
    // The mouth's swing around its mean, truth against smoothed (mean 0.5 open).
    const double a = mouth_opening(truth) - mouth_opening(test::synthetic_face(0, 0, 200, 0.5f));
    const double b = mouth_opening(track.frames[t]) - mouth_opening(test::synthetic_face(0, 0, 200, 0.5f));
    mouth_truth += a * a, mouth_cross += a * b, mouth_smooth += b * b;
  }
  // Closer to the truth than the raw track: the smoothing removed noise, not motion.
  EXPECT_LT(smooth_error, 0.5 * raw_error);
  // The 4 Hz mouth keeps at least 90 % of its swing and stays in phase (no lag).
  EXPECT_GT(std::sqrt(mouth_smooth / mouth_truth), 0.9);
  EXPECT_GT(mouth_cross / std::sqrt(mouth_truth * mouth_smooth), 0.97);
}

TEST(SmoothTrack, FramesWithoutAFaceAreLeftAlone) {
  LandmarkTrack track = noisy_track(40, 1.0f);
  for (int t = 15; t < 30; ++t) {
    track.success[t] = 0;
    track.frames[t] = FaceLandmarks{};
  }
  smooth_track(track);
  EXPECT_EQ(track.frames[20][30], cv::Point2f(0, 0));
  EXPECT_NEAR(track.frames[14][30].x, truth_at(14)[30].x, 2.0);
  EXPECT_NEAR(track.frames[30][30].x, truth_at(30)[30].x, 2.0);
}

TEST(SmoothTrack, CutsAreNotSmoothedAcross) {
  LandmarkTrack track = noisy_track(40, 0.f);
  for (int t = 20; t < 40; ++t)  // a cut: the face jumps 100 px
    for (auto& p : track.frames[t]) p.x += 100;
  LandmarkTrack across = track;
  smooth_track(across);
  smooth_track(track, {}, {20});
  EXPECT_NEAR(track.frames[19][30].x, truth_at(19)[30].x, 0.05);
  EXPECT_NEAR(track.frames[20][30].x, truth_at(20)[30].x + 100, 0.05);
  EXPECT_GT(std::abs(across.frames[19][30].x - truth_at(19)[30].x), 5.0);
}
