// Model-space faces: the crop out of the frame and the mouth hole.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "dinet/crop.h"
#include "dinet/error.h"
#include "face/model_to_frame.h"

namespace dinet {
namespace {

bool is_integral(const cv::Rect2f& r) {
  return r.x == std::floor(r.x) && r.y == std::floor(r.y) && r.width == std::floor(r.width) &&
         r.height == std::floor(r.height);
}

}  // namespace

FaceSize face_size(int mouth_region_size) {
  const int m = mouth_region_size;
  if (m <= 0 || m % 8 != 0)
    throw Error("mouth region size " + std::to_string(m) +
                ": must be a positive multiple of 8 (64, 128 or 256)");
  FaceSize s;
  s.mouth = m;
  s.r = m / 2;
  s.q = s.r / 4;
  s.height = 3 * s.r + s.q;
  s.width = 2 * s.r + 2 * s.q;
  return s;
}

void mask_mouth(cv::Mat& face, int mouth_region_size) {
  const FaceSize s = face_size(mouth_region_size);
  if (face.cols != s.width || face.rows != s.height)
    throw Error("mask_mouth: face is " + std::to_string(face.cols) + "x" + std::to_string(face.rows) +
                ", expected " + std::to_string(s.width) + "x" + std::to_string(s.height) +
                " for mouth size " + std::to_string(mouth_region_size));
  face(s.mouth_rect()).setTo(cv::Scalar::all(0));
}

cv::Mat crop_face(const cv::Mat& frame, const CropWindow& window, cv::Size model_size) {
  cv::Mat out;
  const cv::Rect rect(window.rect);
  const cv::Rect inside = rect & cv::Rect(0, 0, frame.cols, frame.rows);
  if (is_integral(window.rect) && !inside.empty()) {
    // The published slice + cv::resize, with the out-of-frame part replicated from the border.
    cv::Mat cut = frame(inside);
    if (inside != rect)
      cv::copyMakeBorder(frame(inside), cut, inside.y - rect.y, rect.br().y - inside.br().y,
                         inside.x - rect.x, rect.br().x - inside.br().x, cv::BORDER_REPLICATE);
    cv::resize(cut, out, model_size, 0, 0, cv::INTER_LINEAR);
    return out;
  }
  cv::warpAffine(frame, out, face::model_to_frame(window.rect, model_size), model_size,
                 cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return out;
}

}  // namespace dinet
