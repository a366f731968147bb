// dinet selfrecon: how well a model re-creates held-out footage of the person it was tuned on.
#include <cmath>
#include <cstdio>

#include "commands.h"
#include "dinet/files.h"
#include "dinet/interrupt.h"
#include "dinet/runtime.h"
#include "dinet/selfrecon.h"

namespace dinet::cli {

void setup_selfrecon(CLI::App& app) {
  auto o = std::make_shared<SelfReconOptions>();
  auto* verb = app.add_subcommand(
      "selfrecon",
      "Dub a person's held-out video with its own audio and measure it against the real frames (mouth L1, "
      "PSNR, SSIM, landmark distance, seam, colour, sharpness, silence), beside another audio and a baseline; "
      "writes selfrecon.json and selfrecon.html (docs/finetune.md)");
  verb->add_option("--model_path", o->model_path, "the model to measure")->required();
  verb->add_option("--holdout_video", o->holdout_video, "footage of the person the model never trained on")
      ->required();
  verb->add_option("--holdout_landmarks", o->holdout_landmarks,
                   "its OpenFace CSV (detected and written there when missing)");
  verb->add_option("--other_audio", o->other_audio, "another clip's speech for the other-audio baseline");
  verb->add_option("--baseline_model", o->baseline_model, "the starting model, as a baseline");
  verb->add_option("--still_mouth_video", o->still_mouth_video,
                   "without --baseline_model: a video of the person whose last frame's mouth, pasted on every "
                   "frame, is the baseline");
  verb->add_option("--result_path", o->output_dir, "where the result videos and the report go")->required();
  verb->add_option("--silence_dbfs", o->silence_dbfs, "audio below this RMS level is silence")->capture_default_str();
  verb->add_option("--device", o->infer.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  auto threads = std::make_shared<int>(0);
  add_threads_option(verb, *threads);
  verb->callback([o, threads] {
    o->infer.threads = *threads;
    set_threads(*threads);
    o->infer.precision = automatic_precision(o->infer.device);
    // Ctrl-C stops the dubbing or the measuring at the next frame; a half-written video is removed.
    const InterruptScope interrupts("dinet selfrecon");
    remove_dead_temporaries(o->output_dir);
    const SelfRecon r = self_reconstruction(*o);
    write_selfrecon_report(o->output_dir, r);
    for (const auto& v : r.variants)
      std::printf("%-28s mouth L1 %.4f, PSNR %.2f dB, LMD/IOD %.4f, seam %.2f, colour %.2f Lab, sharpness %.2f\n",
                  v.name.c_str(), v.mouth_l1, v.mouth_psnr, v.lmd_iod, v.seam_ratio, v.colour_shift_lab,
                  v.sharpness_ratio);
    if (!r.note.empty()) std::printf("%s\n", r.note.c_str());
    std::printf("report: %s\n", (o->output_dir / "selfrecon.html").c_str());
  });
}

}  // namespace dinet::cli
