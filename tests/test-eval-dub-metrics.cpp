// Dub figures on constructed frames whose answers are known: identical frames, a hard-edged
// paste, a uniform colour shift, a blurred mouth, silence and a tone.
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <numbers>

#include "dinet/crop.h"
#include "dinet/dub_metrics.h"
#include "dinet/error.h"
#include "dinet/evaluate.h"
#include "face_synthetic.h"
#include "test_support.h"

using namespace dinet;

namespace {

// Skin-like colour with a fine texture, so the mouth has detail to lose and edges are gentle.
cv::Mat skin_frame(int size = 400) {
  cv::Mat frame(size, size, CV_8UC3);
  cv::randu(frame, cv::Scalar(100, 120, 170), cv::Scalar(130, 150, 200));
  cv::GaussianBlur(frame, frame, cv::Size(3, 3), 0.8);
  return frame;
}

const FaceLandmarks kFace = test::synthetic_face(200, 180, 200);

}  // namespace

TEST(DubFrameFigures, IdenticalFramesHaveNoSeamNoShiftAndEqualSharpness) {
  const cv::Mat frame = skin_frame();
  const DubFrameFigures f = dub_frame_figures(frame, frame, kFace);
  EXPECT_GT(f.seam_gradient_source, 0);
  EXPECT_DOUBLE_EQ(f.seam_gradient_dubbed, f.seam_gradient_source);
  EXPECT_EQ(f.colour_shift_lab, 0);
  EXPECT_GT(f.mouth_sharpness_source, 0);
  EXPECT_DOUBLE_EQ(f.mouth_sharpness_dubbed, f.mouth_sharpness_source);
  EXPECT_TRUE(std::isnan(f.inner_lip_gap_iod));
}

TEST(DubFrameFigures, AHardEdgedPasteRaisesTheSeamGradient) {
  const cv::Mat source = skin_frame();
  const FrameMask mask = lower_face_mask(kFace, source.size());
  cv::Mat dubbed = source.clone(), brighter = source(mask.roi) + cv::Scalar::all(40);
  brighter.copyTo(dubbed(mask.roi), mask.alpha >= 0.5f);  // the box, with no soft edge
  const DubFrameFigures f = dub_frame_figures(dubbed, source, kFace);
  EXPECT_GT(f.seam_gradient_dubbed, 2 * f.seam_gradient_source);
}

TEST(DubFrameFigures, AUniformLabShiftIsMeasuredAsItsSize) {
  const cv::Mat source(400, 400, CV_8UC3, cv::Scalar(110, 130, 180));
  cv::Mat lab;
  source.convertTo(lab, CV_32F, 1.0 / 255);
  cv::cvtColor(lab, lab, cv::COLOR_BGR2Lab);
  lab += cv::Scalar(3, 4, 0);  // CIE76 distance 5
  cv::Mat dubbed;
  cv::cvtColor(lab, dubbed, cv::COLOR_Lab2BGR);
  dubbed.convertTo(dubbed, CV_8U, 255);
  const DubFrameFigures f = dub_frame_figures(dubbed, source, kFace);
  EXPECT_NEAR(f.colour_shift_lab, 5.0, 0.6);  // 8-bit rounding moves Lab by up to about half a unit
  EXPECT_NEAR(f.seam_gradient_dubbed, 0, 1e-9);
}

TEST(DubFrameFigures, ABlurredMouthIsLessSharp) {
  const cv::Mat source = skin_frame();
  cv::Mat dubbed = source.clone();
  cv::GaussianBlur(source, dubbed, cv::Size(9, 9), 3);
  const DubFrameFigures f = dub_frame_figures(dubbed, source, kFace);
  EXPECT_LT(f.mouth_sharpness_dubbed, 0.2 * f.mouth_sharpness_source);
}

TEST(DubFrameFigures, TheLowerFacePasteMatchesColourAndLeavesTheRestAlone) {
  // A prediction 25 levels too bright: the whole-crop paste shows it at the mask's edge, the
  // lower-face paste matches it to the skin around.
  const cv::Mat source = skin_frame();
  const std::vector<FaceLandmarks> one{kFace};
  const CropWindow w = crop_window(kFace, crop_radius(one, 1.05));
  const cv::Mat prediction = crop_face(source, w, {160, 208}) + cv::Scalar::all(25);
  cv::Mat whole = source.clone(), lower = source.clone();
  paste_face(whole, prediction, w, PasteMode::Feathered);
  paste_face(lower, prediction, w, PasteMode::LowerFace, &kFace);
  const DubFrameFigures f_whole = dub_frame_figures(whole, source, kFace);
  const DubFrameFigures f_lower = dub_frame_figures(lower, source, kFace);
  EXPECT_GT(f_whole.colour_shift_lab, 8);
  EXPECT_LT(f_lower.colour_shift_lab, 2);
  EXPECT_LT(f_lower.seam_gradient_dubbed / f_lower.seam_gradient_source, 1.1);
  // Outside the mask the frame is the source's: PSNR there is infinite (capped at 100 dB).
  const FrameMask mask = lower_face_mask(kFace, source.size());
  cv::Mat a = lower.clone(), b = source.clone();
  a(mask.roi).setTo(0, mask.alpha > 0);
  b(mask.roi).setTo(0, mask.alpha > 0);
  EXPECT_EQ(psnr(a, b), 100.0);
}

TEST(DubFrameFigures, InnerLipGapFollowsTheOpening) {
  const FaceLandmarks closed = test::synthetic_face(200, 180, 200, 0), open = test::synthetic_face(200, 180, 200, 1);
  EXPECT_NEAR(inter_ocular_distance(closed), 80.0, 1e-3);  // eye centres 0.4 x the face size apart
  // The lower inner lip drops by 0.12 x the face size, 0.3 inter-ocular distances.
  EXPECT_NEAR(inner_lip_gap_iod(open) - inner_lip_gap_iod(closed), 0.3, 1e-4);
  const cv::Mat frame = skin_frame();
  EXPECT_NEAR(dub_frame_figures(frame, frame, closed, &open).inner_lip_gap_iod, inner_lip_gap_iod(open), 1e-12);
}

TEST(DubFrameFigures, RejectsFramesOfDifferentSizes) {
  EXPECT_THROW(dub_frame_figures(skin_frame(400), skin_frame(300), kFace), Error);
}

TEST(SilentFrames, ASilentSecondThenAToneAreFoundExactly) {
  const int rate = 16000;
  std::vector<float> samples(2 * rate, 0.f);
  for (int i = rate; i < 2 * rate; ++i) samples[i] = 0.5f * float(std::sin(2 * std::numbers::pi * 440 * i / rate));
  const std::vector<bool> silent = silent_frames(samples, rate, 25);
  ASSERT_EQ(silent.size(), 50u);
  for (int k = 0; k < 50; ++k) EXPECT_EQ(silent[k], k < 25) << k;
}

TEST(SilentFrames, TheThresholdIsInDecibelsOfFullScale) {
  const int rate = 8000;
  // A sine's RMS is its amplitude over sqrt 2: -50 dBFS and -30 dBFS tones.
  auto tone = [&](double dbfs) {
    std::vector<float> s(rate);
    const double amplitude = std::sqrt(2.0) * std::pow(10.0, dbfs / 20);
    for (int i = 0; i < rate; ++i) s[i] = float(amplitude * std::sin(2 * std::numbers::pi * 200 * i / rate));
    return s;
  };
  for (bool quiet : silent_frames(tone(-50), rate, 25)) EXPECT_TRUE(quiet);
  for (bool quiet : silent_frames(tone(-30), rate, 25)) EXPECT_FALSE(quiet);
  // A last partial frame counts: 8000 + 100 samples make 26 frames at 25 fps.
  std::vector<float> longer = tone(-30);
  longer.resize(rate + 100, 0.f);
  const auto frames = silent_frames(longer, rate, 25);
  ASSERT_EQ(frames.size(), 26u);
  EXPECT_TRUE(frames.back());
}
