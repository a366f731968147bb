// dinet finetune: a model of one person from one video, measured on its held-out seconds.
#include <cmath>
#include <cstdio>

#include "commands.h"
#include "dinet/finetune.h"

namespace dinet::cli {

void setup_finetune(CLI::App& app) {
  auto o = std::make_shared<FinetuneOptions>();
  auto* verb = app.add_subcommand(
      "finetune",
      "Train a model of one person from one video (any fps, any audio): hold out its last seconds, prepare "
      "the rest, train the frame stage (and the clip stage with --pretrained_syncnet_path), and measure "
      "the model by dubbing the held-out seconds (selfrecon.json, selfrecon.html); the model is "
      "<result_path>/final.pth (docs/finetune.md)");
  verb->add_option("--source_video_path", o->source_video, "the person's video")->required();
  verb->add_option("--result_path", o->result_path, "where the run and final.pth go")->required();
  verb->add_option("--mouth_region_size", o->mouth_region_size, "64, 128 or 256")
      ->check(CLI::IsMember({64, 128, 256}))
      ->capture_default_str();
  verb->add_option("--init", o->init_model,
                   "a generator to start from (any mouth size, the same audio feature); without it, from scratch");
  verb->add_option("--minutes", o->minutes,
                   "training time budget; the run stops after the epoch that reaches it and always leaves a "
                   "usable final.pth");
  verb->add_option("--epochs", o->epochs, "epoch budget (whichever of --minutes and --epochs comes first)");
  verb->add_option("--holdout_seconds", o->holdout_seconds,
                   "the video's last seconds, never trained on, that measure the model (default: the last 25 %)");
  verb->add_option("--audio_feature", o->audio_feature, "mel or deepspeech")
      ->check(CLI::IsMember({"mel", "deepspeech"}))
      ->capture_default_str();
  verb->add_option("--deepspeech_model", o->deepspeech_model, "output_graph.pb, for --audio_feature deepspeech");
  verb->add_option("--pretrained_syncnet_path", o->pretrained_syncnet_path,
                   "a SyncNet at the same mouth size and audio feature (`dinet train sync`): adds the clip stage "
                   "with its sync loss for the last --clip_share of the budget");
  verb->add_option("--clip_share", o->clip_share, "share of the budget for the clip stage")->capture_default_str();
  verb->add_option("--other_audio", o->other_audio,
                   "another clip's speech for the other-audio baseline (default: the start of the person's own "
                   "training audio: the same voice, other words)");
  verb->add_option("--eval_minutes", o->eval_minutes,
                   "measure on the held-out seconds every N minutes of training (0: only at the end)")
      ->capture_default_str();
  verb->add_option("--vgg_weights", o->vgg_weights,
                   "torchvision's vgg19-dcbb9e9d.pth for the perceptual loss, or random (docs/finetune.md says "
                   "what it costs)")
      ->capture_default_str();
  verb->add_option("--precision", o->precision,
                   "auto (bf16 on a CPU with AVX512-BF16 or AMX, else fp32), fp32, bf16 (those CPUs, CUDA) or "
                   "fp16 (CUDA)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16"}))
      ->capture_default_str();
  verb->add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  verb->add_option("--batch_size", o->batch_size, "samples per frame-stage step")->capture_default_str();
  verb->add_option("--augment_num", o->augment_num, "samples of the video per epoch (each epoch ends with a checkpoint)")
      ->capture_default_str();
  verb->add_option("--lr", o->lr, "Adam learning rate of the generator and the discriminators")->capture_default_str();
  verb->add_option("--seed", o->seed, "random seed")->capture_default_str();
  verb->add_flag("--resume", o->resume, "continue a killed run in --result_path (the same video)");
  verb->add_flag("--force", o->force, "start over in a --result_path that holds another run");
  verb->add_flag_function("--quiet", [o](int64_t) { o->show_progress = false; }, "no progress bars");
  add_threads_option(verb, o->threads);
  verb->callback([o] {
    const FinetuneResult r = finetune(*o);
    std::printf("model: %s (%lld epochs, %.1f min)\n", r.final_model.c_str(), static_cast<long long>(r.epochs),
                r.minutes);
    std::printf("held-out frames: mouth LMD/IOD %.4f with their own audio; own/other audio %.2f, own/baseline %.2f "
                "(under 1: the mouth follows the audio)\n",
                r.lmd_iod, r.lmd_ratio_other_audio, r.lmd_ratio_baseline);
    std::printf("report: %s\n", r.report.c_str());
  });
}

}  // namespace dinet::cli
