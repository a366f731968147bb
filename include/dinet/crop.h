// Face crop geometry (reference section 1): the crop radius, the crop window around the
// nose, the model-space face with its mouth hole, and paste-back into the frame.
//
// The published geometry is kept exactly; its weaknesses are fixed here: windows that leave
// the frame are padded instead of rejected, a face whose size changes gets one radius per
// segment instead of aborting the video, windows keep sub-pixel positions, and paste-back
// blends with a feathered mask instead of a hard rectangle.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dinet/landmarks.h"

namespace dinet {

// Model-space face for a mouth region size m (64, 128 or 256): r = m/2, q = r/4,
// height 3r + q, width 2r + 2q; the mouth hole is rows [r, r+m), columns [q, q+m).
struct FaceSize {
  int mouth = 0, r = 0, q = 0;
  int width = 0, height = 0;
  cv::Size size() const { return {width, height}; }
  cv::Rect mouth_rect() const { return {q, r, mouth, mouth}; }
};
// Throws dinet::Error unless m is a positive multiple of 8 (so r and q are whole).
FaceSize face_size(int mouth_region_size);

// Sets the mouth hole of a model-space face (any type, any channel count) to 0.
void mask_mouth(cv::Mat& face, int mouth_region_size);

// ---- radius ------------------------------------------------------------------------
// The published per-frame radius: floor(max((max_k y_k - y_29) * s, (x_54 - x_48) * s) / 2).
// Landmarks are used as given (sub-pixel); truncate them first for the published numbers.
double frame_radius(const FaceLandmarks& landmarks, double scale);
// The crop radius R of a run of frames: (floor(max rad / 4) + 1) * 4, a multiple of 4.
int crop_radius(std::span<const FaceLandmarks> frames, double scale);
// The published `compute_crop_radius`, for parity: landmarks truncated to integers like
// numpy's astype(int); nullopt where the published code rejects the run (a window leaves
// the `video_size` frame, or max rad > 1.5 min rad).
std::optional<int> published_crop_radius(cv::Size video_size, std::span<const FaceLandmarks> frames,
                                         double scale);

// ---- window ----------------------------------------------------------------------
// Rows [y29 - R, y29 + 2R + R/4), columns [x33 - R - R/4, x33 + R + R/4) of the frame:
// the same aspect as the model face, so it is resized straight to it. It may extend past
// the frame; crop_face pads. `rect` is fractional unless built from integer landmarks.
struct CropWindow {
  cv::Rect2f rect;
  int radius = 0;
};
// `integer_positions` truncates x33 and y29 like the published code (which truncates every
// landmark before anything else); otherwise the window keeps their sub-pixel position.
CropWindow crop_window(const FaceLandmarks& landmarks, int radius, bool integer_positions = false);

// A run of frames [begin, end) sharing one radius.
struct RadiusSegment {
  int64_t begin = 0, end = 0;
  int radius = 0;
};
// Splits the frames with success != 0 into segments where max rad <= max_ratio * min rad
// (greedy, in frame order) and gives each its own crop radius. Frames without a face
// (success 0) end a segment and belong to none.
std::vector<RadiusSegment> radius_segments(const LandmarkTrack& track, double scale,
                                           double max_ratio = 1.5);

// How inference chooses each frame's window.
struct WindowOptions {
  double scale = 1.05;
  // true: one radius per segment (radius_segments), so the crop does not zoom in and out
  // as the mouth opens. false: the published radius of the 5 frames centred on each frame
  // (edge frames repeated), which changes in steps of 4 pixels.
  bool segment_radius = true;
  bool integer_positions = false;  // the published truncation, for parity runs
};
// One window per frame of `track`; nullopt for frames without a face.
std::vector<std::optional<CropWindow>> crop_windows(const LandmarkTrack& track,
                                                    const WindowOptions& options = {});

// ---- crop and paste ------------------------------------------------------------------
// The window resampled (bilinear, as published) to `model_size`; parts outside the frame are
// filled by replicating the border. For an integer window inside the frame the result is
// the published slice + cv::resize, bit for bit. Same type as `frame`.
cv::Mat crop_face(const cv::Mat& frame, const CropWindow& window, cv::Size model_size);

enum class PasteMode {
  // The published paste: the prediction resized to the (rounded) window, its top 3R rows
  // written over frame rows [y29 - R, y29 + 2R): a hard rectangle that can leave a seam.
  Hard,
  // The prediction blended in with a mask that is 1 over the mouth hole and falls smoothly
  // to 0 across the margin around it (the q-wide border of the top 3R rows, and the bottom
  // q rows the published paste drops), so no seam is visible.
  Feathered,
};
// Writes a model-space `face` (same type as `frame`, any size with the model aspect) back
// into `frame` at `window`. Pixels outside the window never change.
void paste_face(cv::Mat& frame, const cv::Mat& face, const CropWindow& window,
                PasteMode mode = PasteMode::Feathered);

}  // namespace dinet
