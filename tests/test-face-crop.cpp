// Crop geometry: published radius parity, model sizes, padding, per-segment radius,
// crop and paste-back on synthetic frames.
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>

#include "dinet/crop.h"
#include "dinet/error.h"
#include "face_synthetic.h"
#include "test_support.h"

using namespace dinet;

namespace {

// A smooth, textured test frame: no flat areas, so resampling errors would show.
cv::Mat gradient_frame(int width, int height) {
  cv::Mat frame(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      frame.at<cv::Vec3b>(y, x) = {uchar(128 + 100 * std::sin(x * 0.05)),
                                   uchar(128 + 100 * std::cos(y * 0.04)), uchar((x + y) / 8 % 256)};
  return frame;
}

LandmarkTrack track_of(const std::vector<FaceLandmarks>& frames) {
  return {frames, std::vector<uint8_t>(frames.size(), 1), std::vector<float>(frames.size(), 1.f)};
}

}  // namespace

TEST(CropRadius, MatchesThePublishedCodeOnAllFixtureCases) {
  DINET_REQUIRE_SHARED();
  std::ifstream in(test::shared_dir() / "fixtures/parity64/crop_radius_cases.json");
  const auto cases = nlohmann::json::parse(in).at("cases");
  ASSERT_EQ(cases.size(), 40u);
  int accepted = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    std::vector<FaceLandmarks> frames;
    for (const auto& frame : c.at("landmarks")) {
      FaceLandmarks lm;
      for (int k = 0; k < 68; ++k) lm[k] = {frame[k][0].get<float>(), frame[k][1].get<float>()};
      frames.push_back(lm);
    }
    const cv::Size size(c.at("video_size")[0].get<int>(), c.at("video_size")[1].get<int>());
    const auto radius = published_crop_radius(size, frames, c.at("random_scale").get<double>());
    ASSERT_EQ(radius.has_value(), c.at("ok").get<bool>()) << "case " << i;
    if (radius) {
      EXPECT_EQ(*radius, c.at("radius").get<int>()) << "case " << i;
      // Without the rejection rules the radius is the same number.
      EXPECT_EQ(crop_radius(frames, 1.05), *radius) << "case " << i;
      ++accepted;
    }
  }
  EXPECT_EQ(accepted, 22);
}

TEST(FaceSize, ModelSizesForEachMouthSize) {
  const FaceSize s64 = face_size(64), s128 = face_size(128), s256 = face_size(256);
  EXPECT_EQ(s64.size(), cv::Size(80, 104));
  EXPECT_EQ(s128.size(), cv::Size(160, 208));
  EXPECT_EQ(s256.size(), cv::Size(320, 416));
  EXPECT_EQ(s256.mouth_rect(), cv::Rect(32, 128, 256, 256));
  EXPECT_THROW(face_size(100), Error);
}

TEST(FaceSize, MaskMouthZeroesExactlyTheHole) {
  cv::Mat face(104, 80, CV_8UC3, cv::Scalar(7, 8, 9));
  mask_mouth(face, 64);
  for (int y = 0; y < face.rows; ++y)
    for (int x = 0; x < face.cols; ++x) {
      const bool hole = y >= 32 && y < 96 && x >= 8 && x < 72;
      ASSERT_EQ(face.at<cv::Vec3b>(y, x), hole ? cv::Vec3b(0, 0, 0) : cv::Vec3b(7, 8, 9)) << y << "," << x;
    }
  cv::Mat wrong(100, 80, CV_8UC3);
  EXPECT_THROW(mask_mouth(wrong, 64), Error);
}

TEST(CropWindow, GeometryKeepsSubPixelPositionsUnlessAskedToTruncate) {
  FaceLandmarks lm = test::synthetic_face(200, 150, 120);
  lm[33].x = 200.75f;
  lm[29].y = 140.5f;
  const CropWindow w = crop_window(lm, 40);
  EXPECT_FLOAT_EQ(w.rect.x, 200.75f - 50);
  EXPECT_FLOAT_EQ(w.rect.y, 100.5f);
  EXPECT_FLOAT_EQ(w.rect.width, 100);
  EXPECT_FLOAT_EQ(w.rect.height, 130);
  // Same aspect as the model face, for every mouth size.
  EXPECT_FLOAT_EQ(w.rect.width / w.rect.height, 80.f / 104.f);
  const CropWindow t = crop_window(lm, 40, true);
  EXPECT_EQ(t.rect, cv::Rect2f(150, 100, 100, 130));
}

TEST(CropFace, IntegerWindowInsideTheFrameIsThePublishedSliceAndResize) {
  const cv::Mat frame = gradient_frame(400, 300);
  const CropWindow w{cv::Rect2f(100, 50, 100, 130), 40};
  cv::Mat expected;
  cv::resize(frame(cv::Rect(100, 50, 100, 130)), expected, {80, 104}, 0, 0, cv::INTER_LINEAR);
  const cv::Mat crop = crop_face(frame, w, {80, 104});
  EXPECT_EQ(cv::norm(crop, expected, cv::NORM_INF), 0);
}

TEST(CropFace, WindowsLeavingTheFrameArePadded) {
  const cv::Mat frame = gradient_frame(320, 240);
  for (const cv::Rect2f rect : {cv::Rect2f(-30, -20, 100, 130), cv::Rect2f(250.5f, 180.25f, 100, 130),
                                cv::Rect2f(-500, -500, 100, 130), cv::Rect2f(-10, -10, 400, 520)}) {
    const cv::Mat crop = crop_face(frame, {rect, 40}, {160, 208});
    ASSERT_EQ(crop.size(), cv::Size(160, 208));
    ASSERT_EQ(crop.type(), CV_8UC3);
  }
  // The padding repeats the border: the top-left corner of a window hanging off the
  // top-left corner is the frame's top-left pixel.
  const cv::Mat crop = crop_face(frame, {cv::Rect2f(-30, -20, 100, 130), 40}, {80, 104});
  EXPECT_EQ(crop.at<cv::Vec3b>(0, 0), frame.at<cv::Vec3b>(0, 0));
}

TEST(CropFace, SubPixelShiftMovesTheCropSmoothly) {
  const cv::Mat frame = gradient_frame(400, 300);
  cv::Mat a, b;
  crop_face(frame, {cv::Rect2f(100, 50, 100, 130), 40}, {100, 130}).convertTo(a, CV_32F);
  crop_face(frame, {cv::Rect2f(100.5f, 50, 100, 130), 40}, {100, 130}).convertTo(b, CV_32F);
  cv::Mat c;
  crop_face(frame, {cv::Rect2f(101, 50, 100, 130), 40}, {100, 130}).convertTo(c, CV_32F);
  // Half a pixel lands half way between the two whole-pixel crops (bilinear sampling).
  EXPECT_LT(cv::norm(b, (a + c) / 2, cv::NORM_INF), 1.5);
  EXPECT_GT(cv::norm(a, c, cv::NORM_INF), 2.0);
}

TEST(RadiusSegments, AGrowingFaceGetsOneRadiusPerSegment) {
  std::vector<FaceLandmarks> frames;
  for (int t = 0; t < 100; ++t) frames.push_back(test::synthetic_face(500, 400, 100 + 2.5f * t, t % 4 / 3.f));
  LandmarkTrack track = track_of(frames);
  track.success[60] = 0;  // a frame without a face ends a segment

  const auto segments = radius_segments(track, 1.05);
  ASSERT_GE(segments.size(), 3u);
  int64_t covered = 0, previous_end = 0;
  for (const auto& seg : segments) {
    EXPECT_GE(seg.begin, previous_end);
    EXPECT_LT(seg.begin, seg.end);
    double lo = 1e9, hi = 0;
    for (int64_t t = seg.begin; t < seg.end; ++t) {
      lo = std::min(lo, frame_radius(frames[t], 1.05));
      hi = std::max(hi, frame_radius(frames[t], 1.05));
    }
    EXPECT_LE(hi, 1.5 * lo);
    EXPECT_EQ(seg.radius, crop_radius(std::span(frames).subspan(seg.begin, seg.end - seg.begin), 1.05));
    EXPECT_FALSE(seg.begin <= 60 && 60 < seg.end);
    covered += seg.end - seg.begin;
    previous_end = seg.end;
  }
  EXPECT_EQ(covered, 99);
  // The whole run is what the published code rejects.
  EXPECT_FALSE(published_crop_radius({2000, 2000}, frames, 1.05).has_value());

  const auto windows = crop_windows(track);
  EXPECT_FALSE(windows[60].has_value());
  for (const auto& seg : segments)
    for (int64_t t = seg.begin; t < seg.end; ++t) EXPECT_EQ(windows[t]->radius, seg.radius);
}

TEST(CropWindows, PublishedModeUsesTheCentredFiveFrameWindow) {
  std::vector<FaceLandmarks> frames;
  for (int t = 0; t < 12; ++t) frames.push_back(test::synthetic_face(300, 200, 150, t % 5 / 4.f));
  const LandmarkTrack track = track_of(frames);
  WindowOptions published;
  published.segment_radius = false;
  published.integer_positions = true;
  const auto windows = crop_windows(track, published);
  for (int t = 0; t < 12; ++t) {
    std::vector<FaceLandmarks> clip;
    for (int k = t - 2; k <= t + 2; ++k) clip.push_back(frames[std::clamp(k, 0, 11)]);
    const auto radius = published_crop_radius({600, 400}, clip, 1.05);
    ASSERT_TRUE(radius.has_value());
    EXPECT_EQ(windows[t]->radius, *radius) << t;
    EXPECT_EQ(windows[t]->rect, crop_window(frames[t], *radius, true).rect);
  }
}

TEST(PasteFace, PastingTheUnmodifiedCropBackChangesLittleAndNothingOutside) {
  const cv::Mat frame = gradient_frame(400, 320);
  for (const cv::Rect2f rect : {cv::Rect2f(120.3f, 60.7f, 100, 130), cv::Rect2f(-20.5f, 230.25f, 100, 130)}) {
    const CropWindow w{rect, 40};
    const cv::Mat face = crop_face(frame, w, {160, 208});  // upsampled, as for m = 128
    cv::Mat pasted = frame.clone();
    paste_face(pasted, face, w, PasteMode::Feathered);
    cv::Mat diff;
    cv::absdiff(pasted, frame, diff);
    const cv::Rect inside = cv::Rect(cv::Point(int(std::floor(rect.x)), int(std::floor(rect.y))),
                                     cv::Point(int(std::ceil(rect.br().x)), int(std::ceil(rect.br().y)))) &
                            cv::Rect(0, 0, frame.cols, frame.rows);
    EXPECT_LE(cv::norm(diff(inside), cv::NORM_INF), 12);
    EXPECT_LT(cv::mean(diff(inside))[0], 1.0);
    diff(inside).setTo(cv::Scalar::all(0));
    EXPECT_EQ(cv::countNonZero(diff.reshape(1)), 0);
  }
}

TEST(PasteFace, HardModeWritesOnlyTheTopThreeRadiiRows) {
  const cv::Mat frame = gradient_frame(400, 320);
  const CropWindow w{cv::Rect2f(100, 40, 100, 130), 40};
  cv::Mat white(104, 80, CV_8UC3, cv::Scalar::all(255));
  cv::Mat pasted = frame.clone();
  paste_face(pasted, white, w, PasteMode::Hard);
  const cv::Rect written(100, 40, 100, 120);
  EXPECT_EQ(cv::countNonZero(pasted(written).reshape(1) != 255), 0);
  cv::Mat diff;
  cv::absdiff(pasted, frame, diff);
  diff(written).setTo(cv::Scalar::all(0));
  EXPECT_EQ(cv::countNonZero(diff.reshape(1)), 0);
  // Near the frame's edge the rectangle is clipped, not rejected.
  cv::Mat edge = frame.clone();
  paste_face(edge, white, {cv::Rect2f(350, 250, 100, 130), 40}, PasteMode::Hard);
  EXPECT_EQ(edge.at<cv::Vec3b>(319, 399), cv::Vec3b(255, 255, 255));
}

TEST(PasteFace, FeatheredMaskCoversTheMouthHoleFully) {
  // A white face pasted over a black frame: the mouth hole is white, the window edge black.
  cv::Mat frame(400, 400, CV_8UC3, cv::Scalar::all(0));
  const CropWindow w{cv::Rect2f(100, 50, 160, 208), 64};
  paste_face(frame, cv::Mat(208, 160, CV_8UC3, cv::Scalar::all(255)), w);
  const cv::Rect hole(100 + 16, 50 + 64, 128, 128);  // window pixels = model pixels here
  EXPECT_EQ(cv::countNonZero(frame(hole).reshape(1) != 255), 0);
  EXPECT_EQ(frame.at<cv::Vec3b>(50, 100), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(frame.at<cv::Vec3b>(50 + 207, 180), cv::Vec3b(0, 0, 0));
}
