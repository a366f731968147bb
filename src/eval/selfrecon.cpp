// Self-reconstruction: dub the held-out frames several ways and measure each against the real
// frames (dinet/selfrecon.h).
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cmath>
#include <optional>

#include "dinet/crop.h"
#include "dinet/dub_metrics.h"
#include "dinet/face_geometry.h"
#include "dinet/error.h"
#include "dinet/evaluate.h"
#include "dinet/face.h"
#include "dinet/files.h"
#include "dinet/interrupt.h"
#include "dinet/media.h"
#include "dinet/selfrecon.h"
#include "eval/perceptual_figures.h"

namespace dinet {
namespace fs = std::filesystem;
namespace {

// Crops are compared at one size whatever the model's, so models of any mouth size compare.
constexpr int kCompareMouth = 128;
constexpr int kStills = 4;

double ratio(double a, double b) { return std::isfinite(a) && std::isfinite(b) && b > 0 ? a / b : NAN; }

// The frames whose stills the report shows.
bool is_still(int64_t k, int64_t frames) {
  for (int s = 1; s <= kStills; ++s)
    if (k == frames * s / (kStills + 1)) return true;
  return false;
}

std::vector<bool> silence_of(const fs::path& audio_file, double dbfs) {
  const Audio audio = load_audio(audio_file, 16000);
  return silent_frames(audio.samples, audio.sample_rate, 25.0, dbfs);
}

// The real frames' landmarks: the CSV beside the held-out video, detected once and kept.
LandmarkTrack real_landmarks(const SelfReconOptions& o, const LandmarkModel& model) {
  if (!o.holdout_landmarks.empty() && fs::exists(o.holdout_landmarks)) return read_openface_csv(o.holdout_landmarks);
  const LandmarkTrack track = detect_video_landmarks(o.holdout_video, model).track;
  if (!o.holdout_landmarks.empty()) write_openface_csv(o.holdout_landmarks, track);
  return track;
}

// The still-mouth baseline: the last frame of `still_video` (a frame the model trained on,
// next to the held-out part) pasted into every held-out frame as `dinet infer` pastes.
void write_still_mouth(const SelfReconOptions& o, const LandmarkTrack& real, const LandmarkModel& model,
                       const fs::path& output) {
  const VideoLandmarks still_track = detect_video_landmarks(o.still_mouth_video, model);
  int64_t last = static_cast<int64_t>(still_track.track.size()) - 1;
  while (last >= 0 && !still_track.track.success[last]) --last;
  if (last < 0) throw Error(o.still_mouth_video.string(), "no face to take the still mouth from");
  cv::Mat still;
  {
    VideoReader reader(o.still_mouth_video);
    for (int64_t k = 0; k <= last && reader.read(still); ++k) {
    }
  }
  const FaceLandmarks& still_landmarks = still_track.track.frames[last];
  const FaceSize face = face_size(kCompareMouth);
  const CropWindow still_window =
      crop_window(still_landmarks, crop_radius(std::span(&still_landmarks, 1), 1.05));
  const cv::Mat still_face = crop_face(still, still_window, face.size());

  const auto windows = crop_windows(real);
  VideoReader reader(o.holdout_video);
  AtomicFile file(output);
  VideoWriter writer(file.temp_path(), reader.info().width, reader.info().height, o.infer.video);
  cv::Mat frame;
  for (size_t k = 0; reader.read(frame); ++k) {
    throw_if_interrupted();
    if (k < windows.size() && windows[k]) paste_face(frame, still_face, *windows[k], o.infer.paste, &real.frames[k]);
    writer.write(frame);
  }
  writer.finish();
  file.commit();
}

// Measures one result video against the real held-out frames.
SelfReconVariant measure(SelfReconVariant::Role role, const std::string& name, const fs::path& video, const fs::path& driving_audio,
                         const SelfReconOptions& o, const LandmarkTrack& real, const LandmarkModel& model,
                         std::vector<cv::Mat>& stills) {
  SelfReconVariant v;
  v.role = role;
  v.name = name;
  v.video = video;
  const LandmarkTrack dubbed = detect_video_landmarks(video, model).track;
  const std::vector<bool> silent = silence_of(driving_audio, o.silence_dbfs);
  const auto windows = crop_windows(real);
  const FaceSize face = face_size(kCompareMouth);
  const cv::Rect mouth = face.mouth_rect();
  VideoReader real_reader(o.holdout_video), dubbed_reader(video);
  const int64_t frames = std::min<int64_t>(real.size(), dubbed.size());

  std::vector<double> l1, psnrs, ssims, seams_dubbed, seams_source, colour, sharp_dubbed, sharp_source, gaps;
  int64_t closed = 0;
  cv::Mat a_frame, b_frame;
  for (int64_t k = 0; k < frames; ++k) {
    throw_if_interrupted();
    if (!real_reader.read(a_frame) || !dubbed_reader.read(b_frame)) break;
    ++v.frames;
    double lmd = NAN;
    if (real.success[k] && windows[k]) {
      const cv::Mat a = crop_face(a_frame, *windows[k], face.size());
      const cv::Mat b = crop_face(b_frame, *windows[k], face.size());
      l1.push_back(cv::norm(a(mouth), b(mouth), cv::NORM_L1) / (255.0 * mouth.area() * 3));
      psnrs.push_back(psnr(a(mouth), b(mouth)));
      ssims.push_back(ssim(a(mouth), b(mouth)));
      const FaceLandmarks* dubbed_landmarks = dubbed.success[k] ? &dubbed.frames[k] : nullptr;
      const DubFrameFigures f = dub_frame_figures(b_frame, a_frame, real.frames[k], dubbed_landmarks);
      seams_dubbed.push_back(f.seam_gradient_dubbed);
      seams_source.push_back(f.seam_gradient_source);
      colour.push_back(f.colour_shift_lab);
      sharp_dubbed.push_back(f.mouth_sharpness_dubbed);
      sharp_source.push_back(f.mouth_sharpness_source);
      if (dubbed_landmarks) {
        lmd = mouth_landmark_distance(*dubbed_landmarks, real.frames[k]) / inter_ocular_distance(real.frames[k]);
        if (k < static_cast<int64_t>(silent.size()) && silent[k]) {
          ++v.silent_frames;
          gaps.push_back(f.inner_lip_gap_iod);
          closed += f.inner_lip_gap_iod < o.closed_gap_iod;
        }
      }
      if (is_still(k, real.size())) stills.push_back(b);
    }
    v.lmd_iod_by_frame.push_back(lmd);
  }
  v.mouth_l1 = eval::mean_of_finite(l1);
  v.mouth_psnr = eval::mean_of_finite(psnrs);
  v.mouth_ssim = eval::mean_of_finite(ssims);
  v.lmd_iod = eval::mean_of_finite(v.lmd_iod_by_frame);
  v.seam_ratio = ratio(eval::mean_of_finite(seams_dubbed), eval::mean_of_finite(seams_source));
  v.colour_shift_lab = eval::mean_of_finite(colour);
  v.sharpness_ratio = ratio(eval::mean_of_finite(sharp_dubbed), eval::mean_of_finite(sharp_source));
  v.silent_gap_iod = eval::mean_of_finite(gaps);
  v.closed_in_silence = v.silent_frames ? double(closed) / v.silent_frames : NAN;
  return v;
}

// The person's own mouth in the held-out audio's silences, and the real stills.
void measure_real(SelfRecon& recon, const SelfReconOptions& o, const LandmarkTrack& real,
                  std::vector<cv::Mat>& stills) {
  const std::vector<bool> silent = silence_of(o.holdout_video, o.silence_dbfs);
  const auto windows = crop_windows(real);
  const FaceSize face = face_size(kCompareMouth);
  VideoReader reader(o.holdout_video);
  std::vector<double> gaps;
  int64_t closed = 0;
  cv::Mat frame;
  for (int64_t k = 0; k < static_cast<int64_t>(real.size()) && reader.read(frame); ++k) {
    throw_if_interrupted();
    ++recon.holdout_frames;
    if (!real.success[k] || !windows[k]) continue;
    const DubFrameFigures f = dub_frame_figures(frame, frame, real.frames[k], &real.frames[k]);
    if (k < static_cast<int64_t>(silent.size()) && silent[k]) {
      ++recon.silent_frames;
      gaps.push_back(f.inner_lip_gap_iod);
      closed += f.inner_lip_gap_iod < o.closed_gap_iod;
    }
    if (is_still(k, real.size())) stills.push_back(crop_face(frame, *windows[k], face.size()));
  }
  recon.real_silent_gap_iod = eval::mean_of_finite(gaps);
  recon.real_closed_in_silence = recon.silent_frames ? double(closed) / recon.silent_frames : NAN;
}

Dubber dubber_of(const InferOptions& infer, const fs::path& model) {
  InferOptions options = infer;
  options.model_path = model;
  return Dubber(options);
}

fs::path dub(Dubber& dubber, const SelfReconOptions& o, const fs::path& audio, const std::string& variant) {
  const fs::path output = o.output_dir / ("selfrecon_" + variant + ".mp4");
  dubber.dub({o.holdout_video, audio, o.holdout_landmarks, output, "self-reconstruction: " + variant});
  return output;
}

}  // namespace

namespace {

// LMD with its own audio over the LMD of the variant in `role`; NaN when that one is missing.
double lmd_ratio(const std::vector<SelfReconVariant>& variants, SelfReconVariant::Role role) {
  for (const auto& v : variants)
    if (v.role == role) return ratio(variants.front().lmd_iod, v.lmd_iod);
  return NAN;
}

}  // namespace

double SelfRecon::lmd_ratio_other_audio() const { return lmd_ratio(variants, SelfReconVariant::Role::other_audio); }

double SelfRecon::lmd_ratio_baseline() const { return lmd_ratio(variants, SelfReconVariant::Role::baseline); }

SelfRecon self_reconstruction(const SelfReconOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  require_file(o.model_path, "model");
  require_file(o.holdout_video, "held-out video");
  if (!o.other_audio.empty()) require_file(o.other_audio, "other audio");
  if (!o.baseline_model.empty()) require_file(o.baseline_model, "starting model");
  else if (!o.still_mouth_video.empty()) require_file(o.still_mouth_video, "still-mouth video");
  fs::create_directories(o.output_dir);

  const LandmarkModel model(o.infer.landmark_model.empty() ? default_landmark_model() : o.infer.landmark_model);
  SelfRecon recon;
  recon.model_path = o.model_path;
  recon.holdout_video = o.holdout_video;
  SelfReconOptions options = o;
  if (options.holdout_landmarks.empty()) options.holdout_landmarks = o.output_dir / "selfrecon_real_landmarks.csv";
  const LandmarkTrack real = real_landmarks(options, model);

  std::vector<std::vector<cv::Mat>> columns(1);
  measure_real(recon, options, real, columns[0]);
  using Role = SelfReconVariant::Role;
  const auto add = [&](Role role, const std::string& name, const fs::path& video, const fs::path& audio) {
    columns.emplace_back();
    recon.variants.push_back(measure(role, name, video, audio, options, real, model, columns.back()));
  };
  Dubber tuned = dubber_of(o.infer, o.model_path);  // loaded once for both of its audios
  add(Role::own_audio, "tuned model, own audio", dub(tuned, options, o.holdout_video, "own_audio"), o.holdout_video);
  if (!o.other_audio.empty())
    add(Role::other_audio, "tuned model, other audio", dub(tuned, options, o.other_audio, "other_audio"),
        o.other_audio);
  else
    recon.note = "no other audio given: the other-audio baseline is not measured. ";
  if (!o.baseline_model.empty()) {
    Dubber starting = dubber_of(o.infer, o.baseline_model);
    add(Role::baseline, "starting model", dub(starting, options, o.holdout_video, "starting_model"),
        o.holdout_video);
  } else if (!o.still_mouth_video.empty()) {
    const fs::path still = o.output_dir / "selfrecon_still_mouth.mp4";
    write_still_mouth(options, real, model, still);
    add(Role::baseline, "still mouth", still, o.holdout_video);
  } else {
    recon.note += "no starting model and no still-mouth video: that baseline is not measured.";
  }

  // One still per sampled frame: the columns side by side, where every column has that frame.
  size_t rows = columns[0].size();
  for (const auto& column : columns) rows = std::min(rows, column.size());
  for (size_t r = 0; r < rows; ++r) {
    std::vector<cv::Mat> row;
    for (const auto& column : columns) row.push_back(column[r]);
    cv::Mat joined;
    cv::hconcat(row, joined);
    recon.stills.push_back(joined);
  }
  recon.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return recon;
}

}  // namespace dinet
