#include "synth_clip.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "dinet/crop.h"
#include "dinet/error.h"

namespace dinet::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A smooth random wander within +-amplitude: three slow sinusoids of random frequency
// and phase. Heads drift, nod and turn like this while people talk.
class Wander {
 public:
  Wander(Rng& rng, double amplitude, double min_hz, double max_hz) {
    double total = 0;
    for (int k = 0; k < 3; ++k) {
      amp_[k] = rng.uniform(0.3, 1.0);
      total += amp_[k];
      hz_[k] = rng.uniform(min_hz, max_hz);
      phase_[k] = rng.uniform(0, 2 * kPi);
    }
    for (double& a : amp_) a *= amplitude / total;
  }
  double at(double t) const {
    double v = 0;
    for (int k = 0; k < 3; ++k) v += amp_[k] * std::sin(2 * kPi * hz_[k] * t + phase_[k]);
    return v;
  }

 private:
  double amp_[3], hz_[3], phase_[3];
};

// The box a moving face needs in the frame, relative to where it is put.
struct Extent {
  double x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
  void add(cv::Point2d p) {
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  void add(const Extent& e) {
    add(cv::Point2d(e.x0, e.y0));
    add(cv::Point2d(e.x1, e.y1));
  }
  // Where to put it in a frame, two pixels from the edges: anywhere it fits, but nearer
  // the middle more often (the mean of two uniform draws). Nothing when it does not fit.
  std::optional<cv::Point2d> place(cv::Size frame, Rng& rng) const {
    constexpr double margin = 2;
    const double free_x = frame.width - (x1 - x0) - 2 * margin, free_y = frame.height - (y1 - y0) - 2 * margin;
    if (free_x < 0 || free_y < 0) return std::nullopt;
    const double u = (rng.uniform() + rng.uniform()) / 2, v = (rng.uniform() + rng.uniform()) / 2;
    return cv::Point2d(margin - x0 + u * free_x, margin - y0 + v * free_y);
  }
};

// Eyes open 1 .. shut 0: a blink every 2-6 s, over five frames (200 ms).
std::vector<double> blinks(int frames, Rng& rng) {
  constexpr double closing[] = {0.55, 0.1, 0.0, 0.3, 0.75};
  std::vector<double> eyes(frames, 1.0);
  for (double t = rng.uniform(0.5, 4.0); t * kFps < frames; t += rng.uniform(2.0, 6.0)) {
    const int first = static_cast<int>(t * kFps);
    for (int j = 0; j < 5 && first + j < frames; ++j) eyes[first + j] = closing[j];
  }
  return eyes;
}

}  // namespace

SynthClip::SynthClip(cv::Size size, int frames, uint64_t seed) : size_(size) {
  if (size.width < 64 || size.height < 64)
    throw Error("synthetic clip: frame size " + std::to_string(size.width) + "x" +
                std::to_string(size.height) + " is below the 64x64 minimum");
  if (frames < 1) throw Error("synthetic clip: needs at least one frame");
  Rng root(seed);
  Rng voice_rng = root.fork(1), face_rng = root.fork(2), motion_rng = root.fork(3), scene_rng = root.fork(4);
  const uint64_t texture_seed = root.bits();

  Speech speech = synthesize_speech(random_voice(voice_rng), frames, kFps, kSampleRate, voice_rng);
  audio_ = std::move(speech.audio);
  mouth_ = std::move(speech.mouth);
  face_ = random_identity(face_rng);
  // 150-260 pixels wide in a 512x512 frame, in proportion in other sizes.
  double width = face_rng.uniform(150, 260) * std::min(size.width, size.height) / 512.0;

  const std::vector<double> eyes = blinks(frames, motion_rng);
  const Wander gaze_x(motion_rng, 0.5, 0.1, 0.6), gaze_y(motion_rng, 0.3, 0.1, 0.6);
  const Wander dx(motion_rng, 0.04, 0.05, 0.4), dy(motion_rng, 0.03, 0.05, 0.5);
  const Wander turn(motion_rng, 3.0 * kPi / 180, 0.05, 0.4), zoom(motion_rng, 0.03, 0.03, 0.2);
  shapes_.resize(frames);
  gaze_.resize(frames);
  std::vector<cv::Matx22d> linear(frames);
  std::vector<cv::Point2d> drift(frames);  // in face widths
  for (int i = 0; i < frames; ++i) {
    const double t = i / kFps, s = 1 + zoom.at(t), a = turn.at(t);
    shapes_[i] = face_shape(face_, mouth_[i], eyes[i]);
    gaze_[i] = cv::Point2f(float(gaze_x.at(t)), float(gaze_y.at(t)));
    linear[i] = cv::Matx22d(s * std::cos(a), -s * std::sin(a), s * std::sin(a), s * std::cos(a));
    drift[i] = {dx.at(t), dy.at(t)};
  }

  // Place the head so that every landmark and every crop window the published pipeline
  // may cut (scale up to 1.15) stays inside the frame all clip long, and the whole head too
  // where there is room; shrink the face when even the first is impossible.
  const cv::Point2f pivot = FaceRenderer::pivot_unit();
  std::vector<FaceLandmarks> relative(frames);
  cv::Point2d base;
  for (int attempt = 0;; ++attempt) {
    if (attempt == 40)
      throw Error("synthetic clip: no room for a face in a " + std::to_string(size.width) + "x" +
                  std::to_string(size.height) + " frame");
    auto pose = [&](int i, cv::Point2f unit) {
      const cv::Vec2d p = linear[i] * cv::Vec2d((unit.x - pivot.x) * width, (unit.y - pivot.y) * width);
      return cv::Point2f(float(p[0] + drift[i].x * width), float(p[1] + drift[i].y * width));
    };
    for (int i = 0; i < frames; ++i)
      for (int k = 0; k < 68; ++k) relative[i][k] = pose(i, shapes_[i][k]);
    // + 4: integer truncation of the landmarks can raise the published radius one step.
    const int r = crop_radius(relative, 1.15) + 4, r4 = r / 4;
    Extent needed, whole;
    for (int i = 0; i < frames; ++i) {
      const FaceLandmarks& f = relative[i];
      needed.add(cv::Point2d(f[33].x - r - r4, f[29].y - r));
      needed.add(cv::Point2d(f[33].x + r + r4, f[29].y + 2 * r + r4));
      for (const auto& p : f) needed.add(p);
      for (const cv::Point2f corner : {cv::Point2f{-0.62f, -0.86f}, {0.62f, -0.86f}}) whole.add(pose(i, corner));
    }
    whole.add(needed);
    if (const auto at = whole.place(size, scene_rng)) {
      base = *at;
      break;
    }
    if (const auto at = needed.place(size, scene_rng)) {
      base = *at;
      break;
    }
    width *= 0.9;
  }
  face_width_ = width;

  landmarks_.frames.resize(frames);
  landmarks_.success.assign(frames, 1);
  landmarks_.confidence.assign(frames, 0.98f);
  renderer_ = std::make_unique<FaceRenderer>(face_, width, texture_seed);
  const cv::Point2f pivot_px = renderer_->pivot();
  placement_.resize(frames);
  for (int i = 0; i < frames; ++i) {
    for (int k = 0; k < 68; ++k)
      landmarks_.frames[i][k] = relative[i][k] + cv::Point2f(float(base.x), float(base.y));
    // canvas c -> linear * (c - pivot) + base + drift: the map the landmarks went through.
    const cv::Vec2d offset = cv::Vec2d(base.x + drift[i].x * width, base.y + drift[i].y * width) -
                             linear[i] * cv::Vec2d(pivot_px.x, pivot_px.y);
    const cv::Matx22d& m = linear[i];
    placement_[i] = cv::Matx23d(m(0, 0), m(0, 1), offset[0], m(1, 0), m(1, 1), offset[1]);
  }
  const cv::Point2f neck(float(base.x), float(base.y + (1.0 - pivot.y) * width));
  backdrop_ = make_backdrop(size, face_, neck, width, scene_rng);
}

void SynthClip::render(int index, cv::Mat& bgr) {
  renderer_->draw(shapes_[index], gaze_[index]);
  compose_frame(bgr, backdrop_, *renderer_, placement_[index]);
}

}  // namespace dinet::synth
