// Self-reconstruction, the standard check of a model of one person: the held-out part of the
// person's video (never trained on) is dubbed with its own audio and compared with what the
// person really did. Two baselines on the same frames say where the likeness comes from: the
// model driven by another clip's audio (a mouth that follows its audio must then move
// differently) and the starting model, or, when there was none, one still mouth (the last
// trained frame's) pasted on every frame.
//
// Every figure is measured on the decoded result videos, which stay in the report's folder
// for watching:
//   mouth L1, PSNR, SSIM   the mouth square of a mouth-128 face crop, at the real frame's window
//   LMD / IOD              mean distance of the 20 mouth landmarks (48-67), dubbed against real,
//                          over the inter-ocular distance (the same dlib detector on both)
//   seam ratio             gradient across the paste boundary, dubbed over source (1: no seam)
//   colour shift           mean CIE76 Lab difference on a ring inside the paste boundary
//   sharpness ratio        variance of the Laplacian of the mouth box, dubbed over real
//   quiet in silence       in frames whose audio is below silence_dbfs, the inner-lip gap over
//                          the IOD, and the share of those frames with the mouth closed
#pragma once

#include <opencv2/core.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dinet/infer.h"

namespace dinet {

struct SelfReconOptions {
  std::filesystem::path model_path;       // the model under test
  std::filesystem::path holdout_video;    // the held-out frames with their own audio
  std::filesystem::path holdout_landmarks;  // OpenFace CSV of holdout_video; written there when missing
  std::filesystem::path other_audio;      // another clip's speech; empty: that baseline is skipped
  std::filesystem::path baseline_model;   // the starting model; empty: the still-mouth baseline
  std::filesystem::path still_mouth_video;  // its last frame gives the still mouth (not held out)
  std::filesystem::path output_dir;       // the result videos, selfrecon_<variant>.mp4
  InferOptions infer;                     // precision, device, threads, paste; model_path is ignored
  double silence_dbfs = -40;              // audio RMS per frame below this is silence
  double closed_gap_iod = 0.03;           // an inner-lip gap below this (over the IOD) is a closed mouth
};

// One way of producing the held-out frames, measured against the real ones.
struct SelfReconVariant {
  enum class Role { own_audio, other_audio, baseline };
  Role role = Role::own_audio;
  std::string name;     // "tuned model, own audio", "tuned model, other audio", "starting model", "still mouth"
  std::filesystem::path video;  // the result video
  int64_t frames = 0;   // compared
  double mouth_l1 = NAN, mouth_psnr = NAN, mouth_ssim = NAN;
  double lmd_iod = NAN;
  double seam_ratio = NAN, colour_shift_lab = NAN, sharpness_ratio = NAN;
  int64_t silent_frames = 0;  // of its driving audio, among the compared frames
  double silent_gap_iod = NAN, closed_in_silence = NAN;
  std::vector<double> lmd_iod_by_frame;
};

struct SelfRecon {
  std::filesystem::path model_path, holdout_video;
  int64_t holdout_frames = 0;
  // The person's own mouth in the held-out audio's silences.
  int64_t silent_frames = 0;
  double real_silent_gap_iod = NAN, real_closed_in_silence = NAN;
  std::vector<SelfReconVariant> variants;  // own audio first
  std::string note;  // why a baseline is missing, if one is
  double seconds = 0;
  // Face crops side by side, one image per sampled frame: real, then each variant in order.
  std::vector<cv::Mat> stills;

  // LMD with its own audio over LMD of a baseline (NaN when the baseline is missing): under 1
  // the tuned model is closer to the truth.
  double lmd_ratio_other_audio() const;
  double lmd_ratio_baseline() const;
};

// Dubs the held-out video with each variant and measures it. Throws dinet::Error naming the
// file when an input cannot be read or the model cannot dub it.
SelfRecon self_reconstruction(const SelfReconOptions& options);

// selfrecon.json and selfrecon.html (one self-contained page: figures, per-frame LMD, the
// stills) in `dir`, each written atomically.
void write_selfrecon_report(const std::filesystem::path& dir, const SelfRecon& recon);

}  // namespace dinet
