// dlib's face detector and 68-point shape predictor.
#include "dlib_face.h"

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "dinet/error.h"
#include "dinet/files.h"

namespace dinet {

// The fields of a serialized dlib::shape_predictor, read ourselves because its operator()
// rounds every point to whole pixels and takes a whole-pixel box: predict_shape runs the
// same cascade with a fractional box and keeps the fractions, which removes a visible part
// of the tracked landmarks' jitter.
struct LandmarkModel::Impl {
  dlib::matrix<float, 0, 1> initial_shape;  // x0, y0, x1, y1, ... in the unit box
  std::vector<std::vector<dlib::impl::regression_tree>> forests;
  std::vector<std::vector<unsigned long>> anchor_idx;
  std::vector<std::vector<dlib::vector<float, 2>>> deltas;
};

std::filesystem::path default_landmark_model() {
  return "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
}

LandmarkModel::LandmarkModel(const std::filesystem::path& path) {
  require_file(path, "landmark model (dlib's shape_predictor_68_face_landmarks.dat, from "
                     "Debian's libdlib-data or dlib.net; choose another with --landmark_model)");
  auto impl = std::make_shared<Impl>();
  try {
    std::ifstream in(path, std::ios::binary);
    int version = 0;
    dlib::deserialize(version, in);
    if (version != 1) throw dlib::serialization_error("unknown shape predictor version");
    dlib::deserialize(impl->initial_shape, in);
    dlib::deserialize(impl->forests, in);
    dlib::deserialize(impl->anchor_idx, in);
    dlib::deserialize(impl->deltas, in);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw Error(path.string(), "not a dlib shape predictor: " + what.substr(0, what.find('\n')));
  }
  if (impl->initial_shape.size() != 68 * 2)
    throw Error(path.string(), "a shape predictor with " + std::to_string(impl->initial_shape.size() / 2) +
                                   " points, not the 68-point iBUG layout");
  // predict_shape indexes with these numbers unchecked, so a damaged file must fail here.
  bool consistent = impl->forests.size() == impl->anchor_idx.size() &&
                    impl->forests.size() == impl->deltas.size();
  for (size_t level = 0; consistent && level < impl->forests.size(); ++level) {
    const size_t features = impl->anchor_idx[level].size();
    consistent = impl->deltas[level].size() == features;
    for (unsigned long anchor : impl->anchor_idx[level]) consistent = consistent && anchor < 68;
    for (const auto& tree : impl->forests[level]) {
      consistent = consistent && tree.leaf_values.size() == tree.splits.size() + 1;
      for (const auto& split : tree.splits)
        consistent = consistent && split.idx1 < features && split.idx2 < features;
      for (const auto& leaf : tree.leaf_values) consistent = consistent && leaf.size() == 68 * 2;
    }
  }
  if (!consistent) throw Error(path.string(), "not a dlib shape predictor: inconsistent cascades");
  impl_ = std::move(impl);
}

namespace face_detail {

// dlib builds its detector by decompressing and parsing a serialized copy, about half a CPU
// second: done once per process, each tracker then copies it (its scratch state is its own).
const dlib::frontal_face_detector& detector_prototype() {
  static const dlib::frontal_face_detector prototype = dlib::get_frontal_face_detector();
  return prototype;
}

struct HogDetector::Impl {
  dlib::frontal_face_detector detector = detector_prototype();
};

HogDetector::HogDetector() : impl_(std::make_unique<Impl>()) {}
HogDetector::~HogDetector() = default;

std::vector<Detection> HogDetector::detect(const cv::Mat& gray) {
  CV_Assert(gray.type() == CV_8UC1);
  std::vector<dlib::rect_detection> found;
  impl_->detector(dlib::cv_image<unsigned char>(gray), found);
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.detection_confidence > b.detection_confidence; });
  std::vector<Detection> out;
  for (const auto& d : found) {
    const auto& r = d.rect;
    // dlib rectangles are inclusive: right - left + 1 pixels wide.
    out.push_back({cv::Rect2f(float(r.left()), float(r.top()), float(r.width()), float(r.height())),
                   d.detection_confidence});
  }
  return out;
}

FaceLandmarks predict_shape(const LandmarkModel& model, const cv::Mat& bgr, const cv::Rect2f& box) {
  CV_Assert(bgr.type() == CV_8UC3);
  const LandmarkModel::Impl& m = model.impl();
  // dlib's unnormalizing_tform: the unit square onto the box's first and last pixel
  // (dlib rectangles are inclusive), here with fractional corners.
  const float x0 = box.x, y0 = box.y, sx = box.width - 1, sy = box.height - 1;
  auto to_image = [&](dlib::vector<float, 2> p) { return cv::Point2f(x0 + p.x() * sx, y0 + p.y() * sy); };

  dlib::matrix<float, 0, 1> shape = m.initial_shape;
  const size_t shape_bytes = size_t(shape.size()) * sizeof(float);
  std::vector<float> features;
  std::vector<const float*> leaves;
  for (size_t level = 0; level < m.forests.size(); ++level) {
    // As dlib's extract_feature_pixel_values: each feature pixel follows its anchor point
    // through the similarity between the mean shape and the current estimate, and reads
    // the nearest pixel's intensity ((b + g + r) / 3, dlib's grey), 0 outside the frame.
    const dlib::matrix<float, 2, 2> tform = dlib::matrix_cast<float>(
        dlib::impl::find_tform_between_shapes(m.initial_shape, shape).get_m());
    const auto& anchors = m.anchor_idx[level];
    const auto& deltas = m.deltas[level];
    features.resize(anchors.size());
    for (size_t i = 0; i < anchors.size(); ++i) {
      const cv::Point2f p = to_image(tform * deltas[i] + dlib::impl::location(shape, anchors[i]));
      const int x = int(std::floor(p.x + 0.5f)), y = int(std::floor(p.y + 0.5f));
      if (x < 0 || y < 0 || x >= bgr.cols || y >= bgr.rows) {
        features[i] = 0;
      } else {
        const cv::Vec3b& px = bgr.at<cv::Vec3b>(y, x);
        features[i] = float((unsigned(px[0]) + px[1] + px[2]) / 3);
      }
    }
    // The leaves (500 trees x 136 floats per level, 65 MB in all) are far apart in memory, so
    // the time goes into fetching them: find every tree's leaf first and prefetch it, then
    // add them up (in a plain loop: dlib hands `shape += leaf` to BLAS, which costs more).
    const auto& forest = m.forests[level];
    leaves.resize(forest.size());
    unsigned long leaf = 0;
    for (size_t i = 0; i < forest.size(); ++i) {
      leaves[i] = &forest[i](features, leaf)(0);
      for (size_t byte = 0; byte < shape_bytes; byte += 64) __builtin_prefetch(reinterpret_cast<const char*>(leaves[i]) + byte);
    }
    float* estimate = &shape(0);
    for (const float* delta : leaves)
      for (long i = 0; i < shape.size(); ++i) estimate[i] += delta[i];
  }
  FaceLandmarks out;
  for (unsigned long k = 0; k < 68; ++k) out[k] = to_image(dlib::impl::location(shape, k));
  return out;
}

}  // namespace face_detail
}  // namespace dinet
