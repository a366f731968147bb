// `dinet evaluate`: quality figures of dubbed videos against their sources, as the published
// fork's run_evaluate.py pairs `asserts/inference_result` with `asserts/test_data`.
//
//   PSNR, SSIM   face crop and mouth rectangle, frame by frame (meaningful when the driving
//                audio is the source's own, so the source is the ground truth)
//   LMD          mean distance of the 20 mouth landmarks (48-67), result vs source, in
//                pixels of the model face (so videos of any size compare)
//   sync         with a SyncNet: the audio-video offset that scores best (frames), the
//                confidence (best score minus the median over offsets, LSE-C style) and the
//                mean score at offset 0
//
// LPIPS and FID need networks whose weights are not redistributable here; they are not
// computed (docs/evaluation.md).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dinet {

class Progress;

struct EvaluateOptions {
  std::filesystem::path result_dir = "./asserts/inference_result";
  std::filesystem::path test_video_dir = "./asserts/test_data/split_video_25fps";
  std::filesystem::path landmark_dir;  // empty: test_video_dir + "_landmark_openface"
  std::filesystem::path output_dir = "./asserts/evaluate_result";
  std::filesystem::path syncnet_path;      // empty: no sync figures
  std::filesystem::path deepspeech_model;  // for a SyncNet trained on DeepSpeech features
  int mouth_region_size = 0;  // face/mouth regions; 0: the SyncNet's, else 256
  int max_offset = 7;         // sync offsets searched: -max_offset..max_offset frames
  int max_sync_windows = 64;  // 5-frame windows scored per video (evenly spread)
  std::filesystem::path landmark_model;  // dlib predictor; empty: the system's
};

struct SyncFigures {
  int offset = 0;         // frames; positive: the audio is late
  double confidence = 0;  // best mean score minus the median over offsets
  double score = 0;       // mean score at offset 0
  std::vector<double> score_by_offset;     // -max_offset..max_offset
  std::vector<double> score_by_frame;      // at offset 0, NaN where not scored
};

struct VideoEvaluation {
  std::string name;
  std::filesystem::path result, source;
  std::string error;  // non-empty: this video could not be evaluated
  std::string note;   // non-empty: a figure is missing, and why (the others stand)
  int64_t frames = 0;  // compared (min of both lengths)
  double psnr_face = 0, ssim_face = 0, psnr_mouth = 0, ssim_mouth = 0, lmd = 0;
  std::vector<double> psnr_face_by_frame, lmd_by_frame;
  std::optional<SyncFigures> sync;
  std::vector<cv::Mat> stills;  // source face | result face, side by side (BGR)
};

// The result videos in options.result_dir paired with their sources. A video that fails is
// reported in its entry and the others go on.
std::vector<VideoEvaluation> evaluate_results(const EvaluateOptions& options,
                                              Progress* progress = nullptr);

// metrics.json, metrics.csv and report.html (tables, per-frame curves as inline SVG,
// side-by-side stills) in `dir`, each written atomically.
void write_evaluation_report(const std::filesystem::path& dir,
                             const std::vector<VideoEvaluation>& videos,
                             const EvaluateOptions& options);

// ---- the measures, for tests and other callers -----------------------------------------------
double psnr(const cv::Mat& a, const cv::Mat& b);  // 8-bit images of one size; capped at 100 dB
double ssim(const cv::Mat& a, const cv::Mat& b);  // Gaussian 11x11, sigma 1.5, mean over channels

}  // namespace dinet
