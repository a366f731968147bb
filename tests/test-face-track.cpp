// Landmark tracking on the real clips (../shared/data/real): faces found, jitter removed,
// crop and paste-back on real frames. Only the first frames of each clip, to stay quick.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <fstream>

#include "dinet/crop.h"
#include "dinet/error.h"
#include "dinet/face.h"
#include "dinet/media.h"
#include "test_support.h"

using namespace dinet;

namespace {

const LandmarkModel& model() {
  static const LandmarkModel loaded;  // about two seconds: once for every test
  return loaded;
}

struct Clip {
  LandmarkTrack track;
  std::vector<cv::Mat> frames;
  int64_t detector_runs = 0;
};

Clip track_clip(const std::string& name, int max_frames, bool keep_frames = false) {
  Clip clip;
  VideoReader reader(test::shared_dir() / "data/real" / name);
  FaceTracker tracker(model());
  cv::Mat frame;
  for (int t = 0; t < max_frames && reader.read(frame); ++t) {
    const auto face = tracker.track(frame);
    clip.track.frames.push_back(face ? face->landmarks : FaceLandmarks{});
    clip.track.success.push_back(face ? 1 : 0);
    clip.track.confidence.push_back(face ? face->confidence : 0.f);
    if (keep_frames) clip.frames.push_back(frame.clone());
  }
  clip.detector_runs = tracker.detector_runs();
  return clip;
}

double found_fraction(const LandmarkTrack& track) {
  return double(std::count(track.success.begin(), track.success.end(), 1)) / double(track.size());
}

#define REQUIRE_MODEL()                                                           \
  do {                                                                            \
    DINET_REQUIRE_SHARED();                                                       \
    if (!std::filesystem::exists(default_landmark_model()))                        \
      GTEST_SKIP() << default_landmark_model() << " is absent (Debian: libdlib-data)"; \
  } while (0)

}  // namespace

TEST(LandmarkModel, MissingModelIsAClearError) {
  try {
    LandmarkModel missing("/nonexistent/shape_predictor.dat");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/shape_predictor.dat: no such landmark model"),
              std::string::npos)
        << e.what();
  }
  test::TempDir dir;
  std::ofstream(dir / "junk.dat") << "not a model";
  EXPECT_THROW(LandmarkModel(dir / "junk.dat"), Error);
}

TEST(FaceTracker, FindsTheFaceAndSmoothingRemovesJitter) {
  REQUIRE_MODEL();
  for (const std::string name : {"mimictalk_German_20s.mp4", "sadtalker_WDA_KatieHill_000.mp4"}) {
    Clip clip = track_clip(name, 100);
    ASSERT_EQ(clip.track.size(), 100u) << name;
    EXPECT_GE(found_fraction(clip.track), 0.95) << name;
    // Tracked: the detector ran once at the start, not on every frame.
    EXPECT_LE(clip.detector_runs, 3) << name;
    const double before = landmark_jitter(clip.track);
    smooth_track(clip.track);
    const double after = landmark_jitter(clip.track);
    std::printf("%s: jitter %.3f -> %.3f px\n", name.c_str(), before, after);
    EXPECT_LT(after, 0.75 * before) << name;
    // The nose lands inside the face's box, roughly where the clip shows it (512x512).
    const cv::Point2f nose = clip.track.frames[50][30];
    EXPECT_GT(nose.x, 150);
    EXPECT_LT(nose.x, 360);
  }
}

TEST(FaceTracker, FindsTheFaceInTheFullHdPortraitHevcClip) {
  REQUIRE_MODEL();
  const Clip clip = track_clip("latentsync_demo2_video.mp4", 30);
  ASSERT_EQ(clip.track.size(), 30u);
  EXPECT_GE(found_fraction(clip.track), 0.95);
  // The face is in the upper part of the 1080x1920 frame.
  EXPECT_LT(clip.track.frames[10][30].y, 960);
}

TEST(CropOnRealFrames, PastingTheUnmodifiedCropBackChangesLittle) {
  REQUIRE_MODEL();
  Clip clip = track_clip("videoretalking_face_2.mp4", 12, true);
  ASSERT_EQ(found_fraction(clip.track), 1.0);
  smooth_track(clip.track);
  const auto windows = crop_windows(clip.track);
  const FaceSize size = face_size(256);
  for (int t : {0, 6, 11}) {
    ASSERT_TRUE(windows[t].has_value());
    const cv::Mat& frame = clip.frames[t];
    const cv::Mat face = crop_face(frame, *windows[t], size.size());
    ASSERT_EQ(face.size(), cv::Size(320, 416));
    cv::Mat pasted = frame.clone();
    paste_face(pasted, face, *windows[t]);
    cv::Mat diff;
    cv::absdiff(pasted, frame, diff);
    const cv::Rect2f& w = windows[t]->rect;
    const cv::Rect inside = cv::Rect(cv::Point(int(std::floor(w.x)), int(std::floor(w.y))),
                                     cv::Point(int(std::ceil(w.br().x)), int(std::ceil(w.br().y)))) &
                            cv::Rect(0, 0, frame.cols, frame.rows);
    EXPECT_LT(cv::mean(diff(inside))[0], 1.5) << t;
    diff(inside).setTo(cv::Scalar::all(0));
    EXPECT_EQ(cv::countNonZero(diff.reshape(1)), 0) << t;
    // The mouth sits in the model's mouth hole: the mouth corners map inside it.
    const float sx = size.width / w.width, sy = size.height / w.height;
    for (int k : {48, 54}) {
      const cv::Point2f p((clip.track.frames[t][k].x - w.x) * sx, (clip.track.frames[t][k].y - w.y) * sy);
      EXPECT_TRUE(cv::Rect2f(size.mouth_rect()).contains(p)) << t << " point " << k << " at " << p;
    }
  }
}

TEST(FaceTracker, FramesWithoutAFaceAreReportedAndTheFaceIsFoundAgain) {
  REQUIRE_MODEL();
  VideoReader reader(test::shared_dir() / "data/real/mimictalk_German_20s.mp4");
  FaceTracker tracker(model());
  cv::RNG rng(7);
  std::vector<uint8_t> found;
  cv::Mat frame;
  for (int t = 0; t < 40 && reader.read(frame); ++t) {
    if (t >= 10 && t < 20) frame.setTo(cv::Scalar::all(0));           // a black gap
    if (t >= 25 && t < 30) rng.fill(frame, cv::RNG::UNIFORM, 0, 256);  // noise: no face either
    found.push_back(tracker.track(frame).has_value());
  }
  ASSERT_EQ(found.size(), 40u);
  for (int t = 0; t < 40; ++t) {
    const bool face = !(t >= 10 && t < 20) && !(t >= 25 && t < 30);
    EXPECT_EQ(found[t], face) << "frame " << t;
  }
  LandmarkTrack track;
  for (uint8_t f : found) {
    track.frames.push_back(FaceLandmarks{});
    track.success.push_back(f);
    track.confidence.push_back(f ? 1.f : 0.f);
  }
  const auto gaps = fill_gaps(track, 6);
  ASSERT_EQ(gaps.size(), 1u);  // the 5 noise frames are filled, the 10 black ones are not
  EXPECT_EQ(gaps[0].begin, 10);
  EXPECT_EQ(gaps[0].end, 20);
}
