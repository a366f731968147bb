// Draws the synthetic face with OpenCV. The face is drawn upright on its own canvas, in
// face units scaled to pixels, then placed in the video frame by one affine map (the head
// pose); a landmark's position in the frame is that same map applied to its canvas
// position, so the landmarks are exact to the sub-pixel precision of the drawing.
#pragma once

#include <opencv2/core.hpp>

#include <initializer_list>

#include "synth_draw.h"
#include "synth_face.h"

namespace dinet::synth {

class FaceRenderer {
 public:
  // `width_px`: the face width on the canvas. The skin, hair, brows, nose and ears do not
  // change during a clip and are drawn once here; `seed` fixes their texture.
  FaceRenderer(const FaceIdentity& face, double width_px, uint64_t seed);

  // Face units -> canvas pixels.
  cv::Point2f to_canvas(cv::Point2f unit) const { return unit * float(width_px_) + origin_; }
  // The point the head turns around (between the eyes and the nose tip), in face units.
  static cv::Point2f pivot_unit() { return {0.0f, 0.15f}; }
  cv::Point2f pivot() const { return to_canvas(pivot_unit()); }

  // Draws one frame's face: `shape` from face_shape() (face units, blinks included), the
  // irises moved by `gaze` (-1..1 each axis).
  void draw(const FaceLandmarks& shape, cv::Point2f gaze);
  const cv::Mat& canvas() const { return canvas_; }  // CV_8UC3
  const cv::Mat& alpha() const { return alpha_; }    // CV_8UC1, 255 = face

 private:
  Polyline units(std::initializer_list<cv::Point2f> points) const;  // face units -> canvas
  void paint_ears_cheeks_neck();
  void paint_nose(const FaceLandmarks& neutral);   // neutral: canvas pixels
  void paint_brows(const FaceLandmarks& neutral);
  void paint_hair(cv::RNG& rng);
  void draw_eye(const FaceLandmarks& px, int first, cv::Point2f gaze);
  void draw_mouth(const FaceLandmarks& px);

  FaceIdentity face_;
  double width_px_;
  cv::Point2f origin_;
  cv::Mat texture_, static_alpha_;  // the parts that do not move, drawn once
  cv::Mat canvas_, alpha_;
};

// Pastes `canvas` through `canvas_to_frame` (2x3, canvas pixels -> frame pixels) into
// `frame`, blending by `alpha`.
void composite(cv::Mat& frame, const cv::Mat& canvas, const cv::Mat& alpha,
               const cv::Matx23d& canvas_to_frame);

// The still scene around the speaker: a room behind the head, and the speaker's shoulders
// in front of the neck (so the neck disappears into the collar however the head moves).
struct Backdrop {
  cv::Mat wall;                     // CV_8UC3, the whole frame
  cv::Mat clothes, clothes_alpha;   // CV_8UC3 and CV_8UC1 over `clothes_roi` of the frame
  cv::Rect clothes_roi;
};
// The shoulders are centred under `neck` (frame pixels, where the neck meets them) and
// scaled to a face `face_width` pixels wide, in `face.clothes`.
Backdrop make_backdrop(cv::Size size, const FaceIdentity& face, cv::Point2f neck, double face_width,
                       Rng& rng);
// The wall, the face through `canvas_to_frame`, then the clothes.
void compose_frame(cv::Mat& frame, const Backdrop& backdrop, const FaceRenderer& face,
                   const cv::Matx23d& canvas_to_frame);

}  // namespace dinet::synth
