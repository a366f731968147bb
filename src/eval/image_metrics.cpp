#include <opencv2/imgproc.hpp>

#include <cmath>

#include "dinet/error.h"
#include "dinet/evaluate.h"

namespace dinet {
namespace {

void require_same(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type() || a.empty())
    throw Error("image metrics need two non-empty images of the same size and type");
}

}  // namespace

double psnr(const cv::Mat& a, const cv::Mat& b) {
  require_same(a, b);
  const double mse = cv::norm(a, b, cv::NORM_L2SQR) / double(a.total() * a.channels());
  // Identical images have infinite PSNR; a cap keeps averages and JSON finite.
  if (mse <= 1e-10) return 100.0;
  return std::min(100.0, 10.0 * std::log10(255.0 * 255.0 / mse));
}

// The usual SSIM (Wang et al. 2004) with the constants for 8-bit images.
double ssim(const cv::Mat& a, const cv::Mat& b) {
  require_same(a, b);
  const double c1 = 6.5025, c2 = 58.5225;  // (0.01*255)^2, (0.03*255)^2
  cv::Mat x, y;
  a.convertTo(x, CV_32F);
  b.convertTo(y, CV_32F);
  auto blur = [](const cv::Mat& m) {
    cv::Mat out;
    cv::GaussianBlur(m, out, cv::Size(11, 11), 1.5);
    return out;
  };
  const cv::Mat mx = blur(x), my = blur(y);
  const cv::Mat mx2 = mx.mul(mx), my2 = my.mul(my), mxy = mx.mul(my);
  const cv::Mat sx2 = blur(x.mul(x)) - mx2, sy2 = blur(y.mul(y)) - my2, sxy = blur(x.mul(y)) - mxy;
  // Scalar::all: a plain number added to a multi-channel Mat reaches only its first channel.
  const cv::Scalar k1 = cv::Scalar::all(c1), k2 = cv::Scalar::all(c2);
  cv::Mat num = (2 * mxy + k1).mul(2 * sxy + k2);
  cv::Mat den = (mx2 + my2 + k1).mul(sx2 + sy2 + k2);
  cv::Mat map;
  cv::divide(num, den, map);
  const cv::Scalar mean = cv::mean(map);
  double sum = 0;
  for (int c = 0; c < map.channels(); ++c) sum += mean[c];
  return sum / map.channels();
}

}  // namespace dinet
