#include "dinet/dub_metrics.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "dinet/crop.h"
#include "dinet/error.h"

namespace dinet {
namespace {

// Per-pixel gradient magnitude (CV_32F) of a BGR picture, in levels per pixel.
cv::Mat gradient_magnitude(const cv::Mat& bgr) {
  cv::Mat gx, gy;
  // Sobel's 3x3 kernel weighs the difference over two pixels by 4: 1/8 gives levels per pixel.
  cv::Sobel(bgr, gx, CV_32F, 1, 0, 3, 1.0 / 8, 0, cv::BORDER_REPLICATE);
  cv::Sobel(bgr, gy, CV_32F, 0, 1, 3, 1.0 / 8, 0, cv::BORDER_REPLICATE);
  cv::Mat squares = gx.mul(gx) + gy.mul(gy), sum;
  cv::transform(squares, sum, cv::Matx13f(1, 1, 1));
  cv::sqrt(sum, sum);
  return sum;
}

cv::Mat to_lab(const cv::Mat& bgr) {
  cv::Mat lab;
  bgr.convertTo(lab, CV_32F, 1.0 / 255);
  cv::cvtColor(lab, lab, cv::COLOR_BGR2Lab);
  return lab;
}

double laplacian_variance(const cv::Mat& bgr) {
  cv::Mat grey, laplacian;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  cv::Laplacian(grey, laplacian, CV_64F);
  cv::Scalar mean, deviation;
  cv::meanStdDev(laplacian, mean, deviation);
  return deviation[0] * deviation[0];
}

cv::Rect mouth_box(const FaceLandmarks& p, cv::Size frame) {
  std::vector<cv::Point2f> lips(p.begin() + 48, p.begin() + 60);
  const cv::Rect2f box = cv::boundingRect(lips);
  const float pad = 0.2f * float(mouth_width(p));
  const cv::Rect padded(cv::Point(int(std::floor(box.x - pad)), int(std::floor(box.y - pad))),
                        cv::Point(int(std::ceil(box.br().x + pad)), int(std::ceil(box.br().y + pad))));
  return padded & cv::Rect(0, 0, frame.width, frame.height);
}

double mean_over(const cv::Mat& values, const cv::Mat& where) {
  return cv::countNonZero(where) > 0 ? cv::mean(values, where)[0] : NAN;
}

}  // namespace

DubFrameFigures dub_frame_figures(const cv::Mat& dubbed, const cv::Mat& source, const FaceLandmarks& source_landmarks,
                                  const FaceLandmarks* dubbed_landmarks) {
  if (dubbed.type() != CV_8UC3 || source.type() != CV_8UC3 || dubbed.size() != source.size())
    throw Error("dub_frame_figures: the dubbed and source frames must be 8-bit BGR of one size");
  DubFrameFigures figures;
  figures.inner_lip_gap_iod = dubbed_landmarks ? inner_lip_gap_iod(*dubbed_landmarks) : NAN;

  const FrameMask mask = lower_face_mask(source_landmarks, source.size());
  if (mask.roi.empty()) {
    figures.seam_gradient_dubbed = figures.seam_gradient_source = figures.colour_shift_lab = NAN;
  } else {
    const cv::Mat a = mask.alpha;
    const cv::Mat edge = (a > 0) & (a < 1), inner_ring = (a >= 0.5f) & (a < 1);
    figures.seam_gradient_dubbed = mean_over(gradient_magnitude(dubbed(mask.roi)), edge);
    figures.seam_gradient_source = mean_over(gradient_magnitude(source(mask.roi)), edge);
    if (cv::countNonZero(inner_ring) > 0) {
      // The mean difference, then its size: a colour shift, not the texture the model redraws.
      const cv::Scalar shift = cv::mean(to_lab(dubbed(mask.roi)) - to_lab(source(mask.roi)), inner_ring);
      figures.colour_shift_lab = std::sqrt(shift.dot(shift));
    } else {
      figures.colour_shift_lab = NAN;
    }
  }
  const cv::Rect mouth = mouth_box(source_landmarks, source.size());
  if (mouth.area() > 0) {
    figures.mouth_sharpness_dubbed = laplacian_variance(dubbed(mouth));
    figures.mouth_sharpness_source = laplacian_variance(source(mouth));
  } else {
    figures.mouth_sharpness_dubbed = figures.mouth_sharpness_source = NAN;
  }
  return figures;
}

std::vector<bool> silent_frames(std::span<const float> samples, int sample_rate, double fps, double threshold_dbfs) {
  if (sample_rate <= 0 || !(fps > 0)) throw Error("silent_frames: the sample rate and fps must be positive");
  const double per_frame = sample_rate / fps;
  // A frame starts at round(k * per_frame); a last partial frame counts.
  const int64_t n = static_cast<int64_t>(samples.size());
  const auto start = [&](int64_t k) { return std::min<int64_t>(n, std::llround(k * per_frame)); };
  std::vector<bool> silent;
  // RMS against full scale 1 (a square wave at +-1), so -40 dBFS is an RMS of 0.01.
  const double threshold = std::pow(10.0, threshold_dbfs / 20);
  for (int64_t k = 0; start(k) < n; ++k) {
    const int64_t begin = start(k), end = start(k + 1);
    double energy = 0;
    for (int64_t i = begin; i < end; ++i) energy += double(samples[i]) * samples[i];
    silent.push_back(std::sqrt(energy / double(end - begin)) < threshold);
  }
  return silent;
}

}  // namespace dinet
