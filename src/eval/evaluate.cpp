#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "dinet/audio_features.h"
#include "dinet/crop.h"
#include "dinet/dub_metrics.h"
#include "dinet/error.h"
#include "dinet/evaluate.h"
#include "dinet/face.h"
#include "dinet/face_geometry.h"
#include "dinet/interrupt.h"
#include "dinet/media.h"
#include "dinet/networks.h"
#include "dinet/progress.h"
#include "dinet/torch_file.h"
#include "eval/frechet.h"
#include "eval/lse_video.h"
#include "eval/perceptual_figures.h"
#include "eval/sync_score.h"

namespace dinet {
namespace fs = std::filesystem;
namespace {

// `dinet infer` (and the published inference.py) name results <stem>_facial_dubbing_add_audio.mp4.
const std::string kResultSuffix = "_facial_dubbing_add_audio";

struct SyncModel {
  SyncNet net{nullptr};
  int mouth_region_size = 256;
  std::unique_ptr<AudioFeatureExtractor> features;
};

SyncModel load_sync_model(const EvaluateOptions& options) {
  SyncModel model;
  model.net = load_syncnet(options.syncnet_path);
  std::string feature = model.net->audio_channel() == kDeepSpeechChannels ? "deepspeech" : "mel";
  const TorchValue file = load_torch_file(options.syncnet_path);
  if (const TorchValue* meta = file.find("dinet_meta")) {
    if (const TorchValue* m = meta->find("mouth_region_size")) model.mouth_region_size = m->as_int();
    if (const TorchValue* f = meta->find("audio_feature")) feature = f->as_string();
  }
  AudioFeatureOptions feature_options;
  feature_options.type = feature;
  feature_options.deepspeech_model = options.deepspeech_model;
  model.features = std::make_unique<AudioFeatureExtractor>(feature_options);
  if (model.features->spec().channels != model.net->audio_channel())
    throw Error(options.syncnet_path.string(),
                "SyncNet takes " + std::to_string(model.net->audio_channel()) +
                    " audio channels but its feature " + to_string(model.features->spec()) +
                    " has another count");
  return model;
}

LandmarkTrack source_landmarks(const fs::path& source, const fs::path& csv, int64_t frames,
                               const LandmarkModel& landmarks) {
  if (fs::exists(csv)) return read_openface_csv(csv, frames);
  return detect_video_landmarks(source, landmarks).track;
}

at::Tensor to_rgb_tensor(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8)
      .permute({2, 0, 1})
      .to(torch::kFloat)
      .div(255.0);
}

VideoEvaluation evaluate_pair(const fs::path& result, const fs::path& source, const fs::path& csv,
                              const EvaluateOptions& options, const LandmarkModel& landmarks,
                              SyncModel* sync, int mouth_region_size, eval::PerceptualFrames& perceptual,
                              eval::LseSyncNet* lse) {
  VideoEvaluation ev;
  ev.result = result;
  ev.source = source;
  VideoReader source_reader(source), result_reader(result);
  const LandmarkTrack src_track =
      source_landmarks(source, csv, source_reader.info().frame_count, landmarks);
  const LandmarkTrack res_track = detect_video_landmarks(result, landmarks).track;
  // LMD compares like with like: the source's points from the same detector as the result's
  // (a CSV from OpenFace or synth would add its own offset to every frame).
  const LandmarkTrack src_detected =
      fs::exists(csv) ? detect_video_landmarks(source, landmarks).track : src_track;
  const auto src_windows = crop_windows(src_track);
  const auto res_windows = crop_windows(res_track);
  const FaceSize face = face_size(mouth_region_size);
  const cv::Rect mouth = face.mouth_rect();
  std::optional<eval::LseVideo> lse_video;
  if (lse) lse_video.emplace(*lse, res_track, src_track);
  // The result keeps the source's head, so the source's crop window holds its mouth even
  // when the dubbed mouth is too poor for the detector; the result's own is the fallback.
  const auto sync_window = [&](int64_t i) -> const std::optional<CropWindow>& {
    return src_windows[i] ? src_windows[i] : res_windows[i];
  };
  std::optional<eval::SyncScorer> sync_scorer;
  if (sync) {
    // A clip too short for the offset scan still has its image figures.
    try {
      // The frames the loop below will read: the detector read each video to its end.
      const int64_t readable = std::min<int64_t>({static_cast<int64_t>(src_track.size()),
                                                  static_cast<int64_t>(res_track.size()),
                                                  static_cast<int64_t>(src_detected.size())});
      std::vector<bool> has_face(readable);
      for (int64_t i = 0; i < readable; ++i) has_face[i] = sync_window(i).has_value();
      sync_scorer.emplace(sync->net, has_face, sync->features->compute(result), options.max_offset,
                          options.max_sync_windows);
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      ev.note = std::string("no lip-sync figures: ") + e.what();
    }
  }

  const int64_t frames = std::min<int64_t>(src_track.size(), res_track.size());
  std::vector<double> ssim_face, psnr_mouth, ssim_mouth, lmd_iod, colour_shift;
  double seam_result = 0, seam_source = 0, sharpness_result = 0, sharpness_source = 0;
  cv::Mat src_frame, res_frame;
  for (int64_t i = 0; i < frames; ++i) {
    throw_if_interrupted();  // Ctrl-C: the run stops here, between frames, and writes no report
    if (!source_reader.read(src_frame) || !result_reader.read(res_frame)) break;
    ++ev.frames;
    if (lse_video) lse_video->add(res_frame);
    double frame_psnr = std::nan(""), frame_lmd = std::nan("");
    if (src_windows[i]) {
      const cv::Mat a = crop_face(src_frame, *src_windows[i], face.size());
      const cv::Mat b = crop_face(res_frame, *src_windows[i], face.size());
      frame_psnr = psnr(a, b);
      ssim_face.push_back(ssim(a, b));
      psnr_mouth.push_back(psnr(a(mouth), b(mouth)));
      ssim_mouth.push_back(ssim(a(mouth), b(mouth)));
      perceptual.add(i, to_rgb_tensor(a), to_rgb_tensor(b));
      if (res_track.success[i] && i < static_cast<int64_t>(src_detected.size()) && src_detected.success[i]) {
        // In model-face pixels, so videos of different sizes compare.
        const double to_model = face.width / src_windows[i]->rect.width;
        const double distance = mouth_landmark_distance(res_track.frames[i], src_detected.frames[i]);
        frame_lmd = distance * to_model;
        lmd_iod.push_back(distance / inter_ocular_distance(src_detected.frames[i]));
      }
      // The source's landmarks as read (a CSV is not smoothed here, unlike in `dinet infer`),
      // so the mask can sit a pixel or two off the one the paste used.
      const DubFrameFigures figures = res_frame.size() == src_frame.size()
                                          ? dub_frame_figures(res_frame, src_frame, src_track.frames[i])
                                          : DubFrameFigures{NAN, NAN, NAN, NAN, NAN, NAN};
      if (std::isfinite(figures.seam_gradient_dubbed) && std::isfinite(figures.seam_gradient_source)) {
        seam_result += figures.seam_gradient_dubbed;
        seam_source += figures.seam_gradient_source;
        colour_shift.push_back(figures.colour_shift_lab);
      }
      if (std::isfinite(figures.mouth_sharpness_dubbed) && std::isfinite(figures.mouth_sharpness_source)) {
        sharpness_result += figures.mouth_sharpness_dubbed;
        sharpness_source += figures.mouth_sharpness_source;
      }
      const int64_t n_stills = 3;
      for (int64_t s = 1; s <= n_stills; ++s)
        if (i == frames * s / (n_stills + 1)) {
          cv::Mat pair;
          cv::hconcat(a, b, pair);
          ev.stills.push_back(pair);
        }
    }
    ev.psnr_face_by_frame.push_back(frame_psnr);
    ev.lmd_by_frame.push_back(frame_lmd);
    if (sync_scorer && sync_scorer->wants(i))
      sync_scorer->add(i, to_rgb_tensor(crop_face(res_frame, *sync_window(i), face.size())(mouth)));
  }
  if (ev.frames == 0) throw Error(result.string(), "no frames to compare");
  ev.psnr_face = eval::mean_of_finite(ev.psnr_face_by_frame);
  ev.ssim_face = eval::mean_of_finite(ssim_face);
  ev.psnr_mouth = eval::mean_of_finite(psnr_mouth);
  ev.ssim_mouth = eval::mean_of_finite(ssim_mouth);
  ev.lmd = eval::mean_of_finite(ev.lmd_by_frame);
  ev.lmd_iod = eval::mean_of_finite(lmd_iod);
  ev.colour_shift_lab = eval::mean_of_finite(colour_shift);
  if (seam_source > 0) ev.seam_ratio = seam_result / seam_source;
  if (sharpness_source > 0) ev.mouth_sharpness_ratio = sharpness_result / sharpness_source;
  perceptual.finish(ev, ev.frames);
  if (sync_scorer) {
    try {
      ev.sync = sync_scorer->finish();
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      ev.note = std::string("no lip-sync figures: ") + e.what();
    }
  }
  if (lse_video) {
    try {
      ev.lse = lse_video->finish(result);
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      ev.note += (ev.note.empty() ? "" : "; ") + std::string("no LSE-C/LSE-D: ") + e.what();
    }
  }
  return ev;
}

}  // namespace

Evaluation evaluate_results(const EvaluateOptions& options, Progress* progress) {
  if (!fs::is_directory(options.result_dir))
    throw Error(options.result_dir.string(), "no such directory of results (run `dinet infer` first)");
  if (!fs::is_directory(options.test_video_dir))
    throw Error(options.test_video_dir.string(), "no such directory of test videos");
  const fs::path landmark_dir = options.landmark_dir.empty()
                                    ? fs::path(options.test_video_dir.string() + "_landmark_openface")
                                    : options.landmark_dir;
  std::vector<fs::path> results;
  for (const auto& entry : fs::directory_iterator(options.result_dir))
    if (entry.path().extension() == ".mp4" && entry.path().string().find(".tmp-") == std::string::npos)
      results.push_back(entry.path());
  std::sort(results.begin(), results.end());
  if (results.empty()) throw Error(options.result_dir.string(), "no .mp4 results to evaluate");

  eval::PerceptualNetworks perceptual = eval::load_perceptual_networks(options);
  eval::LseSyncNet lse{nullptr};
  if (!options.lse_model.empty()) lse = eval::load_lse_syncnet(options.lse_model);
  std::unique_ptr<SyncModel> sync;
  if (!options.syncnet_path.empty()) sync = std::make_unique<SyncModel>(load_sync_model(options));
  const int mouth_region_size =
      options.mouth_region_size > 0 ? options.mouth_region_size : (sync ? sync->mouth_region_size : 256);
  const LandmarkModel landmarks(options.landmark_model.empty() ? default_landmark_model()
                                                               : options.landmark_model);
  Evaluation out;
  out.lpips_absent = perceptual.lpips_absent;
  if (perceptual.lpips) out.lpips_backbone = eval::to_string(perceptual.lpips->backbone());
  std::vector<at::Tensor> all_results, all_sources;
  const FaceSize face = face_size(mouth_region_size);
  for (const fs::path& result : results) {
    std::string stem = result.stem().string();
    if (stem.size() > kResultSuffix.size() && stem.ends_with(kResultSuffix))
      stem.resize(stem.size() - kResultSuffix.size());
    const fs::path source = options.test_video_dir / (stem + ".mp4");
    VideoEvaluation ev;
    try {
      if (!fs::exists(source)) throw Error(source.string(), "no source video for " + result.filename().string());
      eval::PerceptualFrames frames(perceptual, face.mouth_rect());
      ev = evaluate_pair(result, source, landmark_dir / (stem + ".csv"), options, landmarks, sync.get(),
                         mouth_region_size, frames, lse ? &lse : nullptr);
      if (const at::Tensor features = frames.result_features(); features.defined()) {
        all_results.push_back(features);
        all_sources.push_back(frames.source_features());
        if (features.size(0) >= kMinFramesForVideoFid) ev.fid = eval::frechet_distance(features, all_sources.back());
      }
    } catch (const Interrupted&) {
      throw;  // not a failure of this video
    } catch (const std::exception& e) {
      ev.result = result;
      ev.source = source;
      ev.error = e.what();
    }
    ev.name = stem;
    out.videos.push_back(std::move(ev));
    if (progress) progress->advance();
  }
  out.fid_absent = perceptual.fid_absent;
  eval::summarise_lse(out, lse ? "" : "no --lse_model (syncnet_python's syncnet_v2.model) given");
  if (perceptual.inception) {
    out.fid_frames = 0;
    for (const at::Tensor& features : all_results) out.fid_frames += features.size(0);
    if (out.fid_frames >= 2) out.fid = eval::frechet_distance(at::cat(all_results), at::cat(all_sources));
    else out.fid_absent = "fewer than 2 face crops over all videos";
  }
  return out;
}

}  // namespace dinet
