// The lower-face paste: its mask follows the landmarks, and nothing outside it changes.
#include <opencv2/imgproc.hpp>

#include "dinet/crop.h"
#include "dinet/error.h"
#include "dinet/face_geometry.h"
#include "face_synthetic.h"
#include "test_support.h"

using namespace dinet;

namespace {

cv::Mat textured_frame(int width, int height) {
  cv::Mat frame(height, width, CV_8UC3);
  cv::randu(frame, cv::Scalar(90, 110, 160), cv::Scalar(130, 150, 200));
  cv::GaussianBlur(frame, frame, cv::Size(7, 7), 2);
  return frame;
}

float alpha_at(const FrameMask& mask, cv::Point2f p) {
  const cv::Point q(cvRound(p.x), cvRound(p.y));
  return mask.roi.contains(q) ? mask.alpha.at<float>(q - mask.roi.tl()) : 0.f;
}

}  // namespace

TEST(LowerFaceMask, CoversTheMouthAndChinButNotTheNoseEyesOrBackground) {
  const FaceLandmarks face = test::synthetic_face(200, 180, 200);
  const FrameMask mask = lower_face_mask(face, {400, 400});
  ASSERT_FALSE(mask.roi.empty());
  EXPECT_EQ(alpha_at(mask, (face[62] + face[66]) * 0.5f), 1.f);
  EXPECT_EQ(alpha_at(mask, face[48]), 1.f);
  EXPECT_EQ(alpha_at(mask, face[54]), 1.f);
  EXPECT_EQ(alpha_at(mask, face[57] + cv::Point2f(0, 10)), 1.f);  // the chin
  for (int k : {30, 33, 36, 39, 42, 45, 19, 24, 0, 16}) EXPECT_EQ(alpha_at(mask, face[k]), 0.f) << k;
  EXPECT_EQ(alpha_at(mask, face[33] - cv::Point2f(0, 2)), 0.f);
  // The soft edge is centred on the jaw: half at the jaw line, gone a soft edge below it.
  const float edge = float(kLowerFaceFeather * face_width(face));
  EXPECT_NEAR(alpha_at(mask, face[8]), 0.5f, 0.15f);
  EXPECT_EQ(alpha_at(mask, face[8] + cv::Point2f(0, edge)), 0.f);
  EXPECT_EQ(alpha_at(mask, face[8] - cv::Point2f(0, edge)), 1.f);
  double lo, hi;
  cv::minMaxLoc(mask.alpha, &lo, &hi);
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 1.0);
}

TEST(LowerFaceMask, IsClippedToTheFrame) {
  const FaceLandmarks face = test::synthetic_face(20, 30, 200);
  const FrameMask mask = lower_face_mask(face, {300, 300});
  EXPECT_EQ(mask.roi & cv::Rect(0, 0, 300, 300), mask.roi);
  EXPECT_EQ(mask.alpha.size(), mask.roi.size());
  EXPECT_TRUE(lower_face_mask(test::synthetic_face(-500, -500, 100), {300, 300}).roi.empty());
}

TEST(PasteFace, LowerFaceNeedsLandmarks) {
  cv::Mat frame = textured_frame(400, 400);
  const CropWindow w{cv::Rect2f(100, 50, 160, 208), 64};
  EXPECT_THROW(paste_face(frame, cv::Mat(208, 160, CV_8UC3, cv::Scalar::all(255)), w, PasteMode::LowerFace),
               Error);
  EXPECT_EQ(parse_paste_mode("lower_face"), PasteMode::LowerFace);
  EXPECT_THROW(parse_paste_mode("whole"), Error);
}

TEST(PasteFace, LowerFaceChangesOnlyPixelsInsideTheMask) {
  const cv::Mat frame = textured_frame(400, 400);
  const FaceLandmarks face = test::synthetic_face(200, 180, 200);
  const std::vector<FaceLandmarks> one{face};
  const CropWindow w = crop_window(face, crop_radius(one, 1.05));
  // A prediction nothing like the face: only the mask may show it.
  const cv::Mat white(208, 160, CV_8UC3, cv::Scalar::all(255));
  cv::Mat pasted = frame.clone();
  paste_face(pasted, white, w, PasteMode::LowerFace, &face);

  const FrameMask mask = lower_face_mask(face, frame.size());
  cv::Mat outside(frame.size(), CV_8U, cv::Scalar(255));
  outside(mask.roi).setTo(0, mask.alpha > 0);
  cv::Mat diff;
  cv::absdiff(pasted, frame, diff);
  cv::Mat changed;
  cv::cvtColor(diff, changed, cv::COLOR_BGR2GRAY);
  EXPECT_EQ(cv::countNonZero(changed & outside), 0);
  // The mouth is the prediction's, recoloured to the skin around it: flat, unlike the frame.
  const cv::Point mouth((face[62] + face[66]) * 0.5f);
  const cv::Vec3b before = frame.at<cv::Vec3b>(mouth), after = pasted.at<cv::Vec3b>(mouth);
  EXPECT_NE(before, after);
}

TEST(PasteFace, LowerFaceOfTheUnchangedCropKeepsTheFrame) {
  const cv::Mat frame = textured_frame(400, 400);
  const FaceLandmarks face = test::synthetic_face(200, 180, 200);
  const std::vector<FaceLandmarks> one{face};
  const CropWindow w = crop_window(face, crop_radius(one, 1.05));
  const cv::Mat crop = crop_face(frame, w, {160, 208});
  cv::Mat pasted = frame.clone();
  paste_face(pasted, crop, w, PasteMode::LowerFace, &face);
  cv::Mat diff;
  cv::absdiff(pasted, frame, diff);
  // Resampling twice blurs the texture a little; colour matching adds no shift.
  const cv::Scalar mean_before = cv::mean(frame), mean_after = cv::mean(pasted);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean_after[c], mean_before[c], 0.2);
  EXPECT_LE(cv::norm(diff, cv::NORM_INF), 20);
}
