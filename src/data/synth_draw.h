// Anti-aliased, sub-pixel, semi-transparent drawing on 8-bit BGR images: what OpenCV's
// fillPoly / polylines do, plus an opacity, so a feature tints the skin texture under it
// instead of painting over it.
#pragma once

#include <opencv2/core.hpp>

#include <vector>

namespace dinet::synth {

using Polyline = std::vector<cv::Point2f>;

// A Catmull-Rom curve through `points` (it passes through every one of them, so drawn
// features stay on their landmarks), `per_span` samples per span.
Polyline spline(const Polyline& points, bool closed, int per_span = 6);

// The anti-aliased coverage (0..255) of a filled polygon, over `roi` of an image.
cv::Mat polygon_mask(const Polyline& polygon, const cv::Rect& roi);

// Blends `colour` into `image` over `roi` with weight mask/255 * opacity.
void blend_mask(cv::Mat& image, const cv::Rect& roi, const cv::Mat& mask, const cv::Scalar& colour,
                double opacity);

// An opaque anti-aliased fill (any image type; used for coverage masks).
void fill_polygon(cv::Mat& image, const Polyline& polygon, const cv::Scalar& colour);
void blend_polygon(cv::Mat& image, const Polyline& polygon, const cv::Scalar& colour, double opacity);
void blend_stroke(cv::Mat& image, const Polyline& line, const cv::Scalar& colour, double thickness,
                  double opacity);
// Like blend_polygon, but with edges blurred by `softness` pixels (shadows, blush).
void blend_soft(cv::Mat& image, const Polyline& polygon, const cv::Scalar& colour, double opacity,
                double softness);

// A colour darkened (k < 1) or lightened, e.g. the skin in shadow.
inline cv::Scalar shade(const cv::Scalar& c, double k) { return {c[0] * k, c[1] * k, c[2] * k}; }

// Points of an ellipse (for blending as a polygon).
Polyline ellipse(cv::Point2f centre, cv::Size2f half_axes, int count = 32);

// The bounding box of `points`, grown by `pad` pixels and clipped to `image`.
cv::Rect bounds(const Polyline& points, const cv::Size& image, double pad);

}  // namespace dinet::synth
