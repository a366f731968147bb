// Face crop geometry (reference section 1): the crop radius, the crop window around the
// nose, the model-space face with its mouth hole, and paste-back into the frame.
//
// The published geometry is kept exactly; its weaknesses are fixed here: windows that leave
// the frame are padded instead of rejected, a face whose size changes gets one radius per
// segment instead of aborting the video, windows keep sub-pixel positions, and paste-back
// blends only the lower face in, with a soft edge, instead of a hard rectangle.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
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
  // Only the lower face (lower_face_mask of the frame's landmarks) is taken from the
  // prediction, its colour matched to the skin just outside the mask: a weak model can
  // never touch the eyes, the hair or the background, which stay the source's bit for bit.
  LowerFace,
};
// "hard", "feathered", "lower_face"; throws dinet::Error for another name.
PasteMode parse_paste_mode(const std::string& name);

// Writes a model-space `face` (same type as `frame`, any size with the model aspect) back
// into `frame` at `window`. Pixels outside the window never change. LowerFace needs the
// frame's `landmarks` (throws dinet::Error without them) and 8-bit BGR pictures, and changes
// only pixels inside both the window and the mask.
void paste_face(cv::Mat& frame, const cv::Mat& face, const CropWindow& window,
                PasteMode mode = PasteMode::Feathered, const FaceLandmarks* landmarks = nullptr);

// ---- the lower face ------------------------------------------------------------------
// Soft edge of the lower-face mask, as a fraction of the face width (jaw points 0-16).
inline constexpr double kLowerFaceFeather = 0.06;

// A soft mask over part of a frame: `alpha` (CV_32F, roi.size(), 0..1) covers `roi`; every
// pixel of the frame outside `roi` is 0.
struct FrameMask {
  cv::Rect roi;  // inside the frame; empty when the face is outside it
  cv::Mat alpha;
};
// The lower face: the polygon through the jaw (points 2-14) and just under the nose (31-35,
// moved down by half the soft edge and a pixel so the edge stays off the nostrils), 1 inside, 0 outside,
// a smoothstep over `feather` x face width centred on the polygon's edge (so a chin that the
// prediction lowers is not cut at the source's jaw line). The paste and the dub figures
// (dub_metrics.h) both use this mask.
FrameMask lower_face_mask(const FaceLandmarks& landmarks, cv::Size frame_size,
                          double feather = kLowerFaceFeather);

}  // namespace dinet
