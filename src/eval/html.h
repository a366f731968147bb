// Pieces of the self-contained HTML reports (evaluation, self-reconstruction): numbers that
// may be missing, escaped text, line charts as inline SVG, images as data URLs.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace dinet::eval {

// JSON has no NaN: a figure that could not be measured is null.
nlohmann::json number(double x);
// "%.*f", or "" for a figure that could not be measured.
std::string fixed(double x, int digits = 3);
std::string html_escape(const std::string& s);
// A line chart of one series; gaps (NaN) break the line. `last_x` labels the right end
// (default: the last frame's number).
std::string svg_curve(const std::string& title, const std::vector<double>& values, std::string last_x = "");
// A BGR image as a JPEG data URL for <img src>.
std::string jpeg_data_url(const cv::Mat& bgr, int quality = 85);

}  // namespace dinet::eval
