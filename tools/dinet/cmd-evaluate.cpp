// dinet evaluate: quality figures of the dubbed results against their sources
// (the published fork's run_evaluate.py).
#include <cmath>
#include <cstdio>

#include "commands.h"
#include "dinet/error.h"
#include "dinet/evaluate.h"
#include "dinet/files.h"
#include "dinet/interrupt.h"
#include "dinet/progress.h"
#include "dinet/runtime.h"

namespace dinet::cli {
namespace {

struct EvaluateArgs {
  EvaluateOptions options;
  std::filesystem::path root;
  int threads = 0;
};

void run_evaluate(EvaluateArgs& args) {
  set_threads(args.threads);
  EvaluateOptions& o = args.options;
  if (!args.root.empty()) {
    // --root moves asserts/ as a whole: rebase the defaults that start with ./asserts.
    for (auto* path : {&o.result_dir, &o.test_video_dir, &o.output_dir}) {
      const std::string s = path->lexically_normal().string();
      if (s.rfind("asserts/", 0) == 0) *path = args.root / s.substr(8);
    }
  }
  // Ctrl-C stops at the next frame; the report of an earlier run stays as it was.
  const InterruptScope interrupts("dinet evaluate");
  remove_dead_temporaries(o.output_dir);  // a killed run's half-written report files
  Progress progress("evaluate", -1, "videos");
  const Evaluation evaluation = evaluate_results(o, &progress);
  progress.finish();
  write_evaluation_report(o.output_dir, evaluation, o);
  const auto& videos = evaluation.videos;
  int failed = 0;
  for (const auto& v : videos) {
    if (!v.error.empty()) {
      ++failed;
      std::fprintf(stderr, "dinet: %s: %s\n", v.name.c_str(), v.error.c_str());
      continue;
    }
    std::printf("%-32s PSNR face %.2f dB, SSIM face %.4f, PSNR mouth %.2f dB", v.name.c_str(), v.psnr_face,
                v.ssim_face, v.psnr_mouth);
    // LMD needs the detector to find the dubbed face, which a barely trained model may not give.
    if (std::isfinite(v.lmd)) std::printf(", LMD %.2f", v.lmd);
    else std::printf(", LMD n/a (no face found in the result)");
    if (std::isfinite(v.lpips_face)) std::printf(", LPIPS face %.4f, mouth %.4f", v.lpips_face, v.lpips_mouth);
    if (std::isfinite(v.fid)) std::printf(", FID %.2f", v.fid);
    if (v.sync) std::printf(", sync offset %d, confidence %.3f", v.sync->offset, v.sync->confidence);
    if (v.lse) std::printf(", LSE-C %.3f, LSE-D %.3f, offset %d", v.lse->confidence, v.lse->distance, v.lse->offset);
    if (!v.note.empty()) std::printf(" (%s)", v.note.c_str());
    std::printf("\n");
  }
  if (std::isfinite(evaluation.fid))
    std::printf("FID over all videos: %.2f (%lld face crops each)\n", evaluation.fid,
                static_cast<long long>(evaluation.fid_frames));
  else std::printf("FID not computed: %s\n", evaluation.fid_absent.c_str());
  if (evaluation.lpips_backbone.empty()) std::printf("LPIPS not computed: %s\n", evaluation.lpips_absent.c_str());
  if (evaluation.lse_absent.empty())
    std::printf("LSE-C %.3f, LSE-D %.3f (mean over %lld videos; face box from our landmarks, not S3FD)\n",
                evaluation.lse_c, evaluation.lse_d, static_cast<long long>(evaluation.lse_videos));
  else std::printf("LSE-C/LSE-D not computed: %s\n", evaluation.lse_absent.c_str());
  std::printf("report: %s\n", (o.output_dir / "report.html").c_str());
  if (failed) throw Error(std::to_string(failed) + " of " + std::to_string(videos.size()) +
                          " videos could not be evaluated (see above)");
}

}  // namespace

void setup_evaluate(CLI::App& app) {
  auto args = std::make_shared<EvaluateArgs>();
  auto* verb = app.add_subcommand(
      "evaluate",
      "Measure dubbed videos against their sources: PSNR/SSIM (face, mouth), mouth landmark "
      "distance, lip-sync offset and confidence, LPIPS, FID and LSE-C/LSE-D (with their weights); writes "
      "metrics.json, metrics.csv, report.html");
  EvaluateOptions& o = args->options;
  verb->add_option("--inference_result_dir,--result_dir", o.result_dir,
                   "Dubbed videos (<stem>_facial_dubbing_add_audio.mp4 or <stem>.mp4)")
      ->capture_default_str();
  verb->add_option("--test_video_dir", o.test_video_dir, "Source videos <stem>.mp4")
      ->capture_default_str();
  verb->add_option("--landmark_dir", o.landmark_dir,
                   "OpenFace CSVs of the sources (default: <test_video_dir>_landmark_openface; "
                   "detected when missing)");
  verb->add_option("--res_dir,--evaluate_result_dir", o.output_dir, "Where the report goes")
      ->capture_default_str();
  verb->add_option("--root", args->root, "Moves asserts/: the default paths start there");
  verb->add_option("--syncnet_path", o.syncnet_path,
                   "SyncNet checkpoint (`dinet train sync`, or the published syncnet_256mouth.pth) "
                   "for the lip-sync figures; without it they are skipped");
  verb->add_option("--deepspeech_model", o.deepspeech_model,
                   "output_graph.pb, for a SyncNet trained on DeepSpeech features");
  verb->add_option("--mouth_region_size", o.mouth_region_size,
                   "Mouth size of the face regions (default: the SyncNet's, else 256)");
  verb->add_option("--max_offset", o.max_offset, "Lip-sync offsets searched, in frames (+-)")
      ->capture_default_str();
  verb->add_option("--max_sync_windows", o.max_sync_windows,
                   "5-frame windows scored per video, evenly spread")
      ->capture_default_str();
  verb->add_option("--landmark_model", o.landmark_model, "dlib 68-point predictor (default: Debian's)");
  verb->add_option("--lpips_weights", o.lpips_weights,
                   "LPIPS linear heads of the lpips pip package (lpips/weights/v0.1/alex.pth, or vgg.pth); "
                   "with --lpips_backbone. Without them LPIPS is not computed");
  verb->add_option("--lpips_backbone", o.lpips_backbone,
                   "torchvision's alexnet-owt-7be5be79.pth (or vgg16-397923af.pth with vgg.pth), for LPIPS");
  verb->add_option("--fid_weights", o.fid_weights,
                   "pytorch-fid's pt_inception-2015-12-05-6726825d.pth, for FID (over all videos, and per "
                   "video from " + std::to_string(kMinFramesForVideoFid) + " frames). Without it FID is not computed");
  verb->add_option("--lse_model", o.lse_model,
                   "syncnet_python's syncnet_v2.model (user-supplied, see docs/evaluation.md), for LSE-C and "
                   "LSE-D as papers report them (offsets of +-15 frames; face box from our landmarks, not "
                   "S3FD). Without it they are null in metrics.json");
  add_threads_option(verb, args->threads);
  verb->callback([args] { run_evaluate(*args); });
}

}  // namespace dinet::cli
