// `dinet evaluate`: quality figures of dubbed videos against their sources, as the published
// fork's run_evaluate.py pairs `asserts/inference_result` with `asserts/test_data`.
//
//   PSNR, SSIM   face crop and mouth rectangle, frame by frame (meaningful when the driving
//                audio is the source's own, so the source is the ground truth)
//   LMD          mean distance of the 20 mouth landmarks (48-67), result vs source, in
//                pixels of the model face (so videos of any size compare), and over the
//                source's inter-ocular distance (lmd_iod, comparable across detectors' crops)
//   seam, colour, sharpness  around the lower-face paste mask of the source's landmarks
//                (dub_metrics.h): the result's gradient across the mask's edge over the
//                source's, the Lab colour shift just inside it, and the mouth's variance of
//                the Laplacian over the source's
//   sync         with a SyncNet: the audio-video offset that scores best (frames), the
//                confidence (best score minus the median over offsets, LSE-C style) and the
//                mean score at offset 0
//
//   LPIPS        (Zhang et al. 2018, lpips 0.1) face crop and mouth rectangle, frame by frame,
//                when the user gives the weights: torchvision's AlexNet or VGG16 and the lpips
//                package's linear heads
//   FID          (Heusel et al. 2017, pytorch-fid's Inception) result face crops against source
//                face crops, over all videos (and per video when it has enough frames), when
//                the user gives pytorch-fid's weights
//   LSE-C, LSE-D the published lip-sync metrics: joonson/syncnet_python's SyncNet
//                (syncnet_v2.model, user-supplied) on its MFCC and 224x224 face crops, offsets
//                of +-15 frames; the face box comes from our landmarks, not S3FD
//
// Without their weights LPIPS, FID and LSE are reported as not computed, with the reason
// (docs/evaluation.md).
#pragma once

#include <opencv2/core.hpp>

#include <cmath>
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
  std::filesystem::path lpips_weights;   // the lpips package's alex.pth (or vgg.pth); empty: no LPIPS
  std::filesystem::path lpips_backbone;  // torchvision's alexnet-owt-7be5be79.pth (or vgg16-397923af.pth)
  std::filesystem::path fid_weights;     // pytorch-fid's pt_inception-2015-12-05-6726825d.pth; empty: no FID
  std::filesystem::path lse_model;       // syncnet_python's syncnet_v2.model; empty: no LSE-C/LSE-D
};

// A video's own FID needs this many face crops; fewer give a covariance too rough to mean much
// (the set's FID over all videos is computed from 2).
constexpr int64_t kMinFramesForVideoFid = 250;

struct SyncFigures {
  int offset = 0;         // frames; positive: the audio is late
  double confidence = 0;  // best mean score minus the median over offsets
  double score = 0;       // mean score at offset 0
  std::vector<double> score_by_offset;     // -max_offset..max_offset
  std::vector<double> score_by_frame;      // at offset 0, NaN where not scored
};

// LSE-C and LSE-D (docs/evaluation.md): syncnet_python's SyncNet over 5-frame windows of
// 224x224 face crops, audio shifted by -15..15 frames (run_syncnet.py, vshift 15).
struct LseFigures {
  int offset = 0;           // AV offset, frames: 15 - the shift of least mean distance
                            // (syncnet_python's sign: negative when the audio comes late)
  double confidence = 0;    // LSE-C: median over shifts of the mean distance, minus LSE-D
  double distance = 0;      // LSE-D: the least mean distance over shifts
  int64_t windows = 0;      // 5-frame windows scored
  std::vector<double> mean_distance;  // 31 shifts in syncnet_python's order (offset 15..-15)
};

struct VideoEvaluation {
  std::string name;
  std::filesystem::path result, source;
  std::string error;  // non-empty: this video could not be evaluated
  std::string note;   // non-empty: a figure is missing, and why (the others stand)
  int64_t frames = 0;  // compared (min of both lengths)
  double psnr_face = 0, ssim_face = 0, psnr_mouth = 0, ssim_mouth = 0, lmd = 0;
  double lmd_iod = 0;  // mouth LMD over the source's inter-ocular distance
  // Over all frames with a source face: sum of the result's seam gradient over the source's
  // (1: no seam), mean Lab colour shift, sum of the result's mouth sharpness over the source's.
  double seam_ratio = NAN, colour_shift_lab = NAN, mouth_sharpness_ratio = NAN;
  // NaN where not computed (no weights, too few frames)
  double lpips_face = NAN, lpips_mouth = NAN, fid = NAN;
  std::vector<double> psnr_face_by_frame, lmd_by_frame, lpips_face_by_frame;
  std::optional<SyncFigures> sync;
  std::optional<LseFigures> lse;  // absent: no --lse_model, or see `note`
  std::vector<cv::Mat> stills;  // source face | result face, side by side (BGR)
};

struct Evaluation {
  std::vector<VideoEvaluation> videos;
  std::string lpips_backbone;  // "alex" or "vgg16"; empty: LPIPS not computed
  double fid = NAN;            // all result face crops against all source face crops
  int64_t fid_frames = 0;      // face crops on each side
  std::string lpips_absent, fid_absent;  // why LPIPS / the set's FID is not computed
  // LSE-C/LSE-D of the set: the mean over the videos that have them (as Wav2Lip's scripts).
  double lse_c = NAN, lse_d = NAN;
  int64_t lse_videos = 0;
  std::string lse_absent;  // why LSE-C/LSE-D are not computed
};

// The result videos in options.result_dir paired with their sources. A video that fails is
// reported in its entry and the others go on. Weight files are checked before any video is read.
Evaluation evaluate_results(const EvaluateOptions& options, Progress* progress = nullptr);

// metrics.json, metrics.csv and report.html (tables, per-frame curves as inline SVG,
// side-by-side stills) in `dir`, each written atomically.
void write_evaluation_report(const std::filesystem::path& dir, const Evaluation& evaluation,
                             const EvaluateOptions& options);

// ---- the measures, for tests and other callers -----------------------------------------------
double psnr(const cv::Mat& a, const cv::Mat& b);  // 8-bit images of one size; capped at 100 dB
double ssim(const cv::Mat& a, const cv::Mat& b);  // Gaussian 11x11, sigma 1.5, mean over channels

}  // namespace dinet
