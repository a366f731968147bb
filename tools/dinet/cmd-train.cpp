// dinet train sync|frame|clip: trains SyncNet and the frame and clip stages of DINet on a
// prepared training_json.json. Option names and defaults of `frame` and `clip` are the
// published ones (config.py); docs/training.md is the guide.
#include <memory>
#include <thread>

#include "commands.h"
#include "dinet/train.h"

namespace dinet::cli {
namespace {

// The options every trainer shares.
void add_run_options(CLI::App* verb, TrainRunOptions& o) {
  verb->add_option("--train_data", o.train_data, "training_json.json written by `dinet prepare`")->required();
  verb->add_option("--result_path", o.result_path,
                   "folder for checkpoints, train_log.jsonl and samples/ (created)")->required();
  verb->add_option("--mouth_region_size", o.mouth_region_size,
                   "mouth size m in pixels (64, 128, 256): faces are resized to (3m/2 + m/8) x (m + m/4)")
      ->capture_default_str();
  verb->add_option("--batch_size", o.batch_size, "samples per training step")->capture_default_str();
  verb->add_option("--augment_num", o.augment_num, "times an epoch visits every video")->capture_default_str();
  verb->add_option("--seed", o.seed, "random seed: the same seed draws the same batches")->capture_default_str();
  verb->add_option("--workers", o.workers, "data-loading threads")->capture_default_str();
  verb->add_option("--prefetch", o.prefetch, "batches loaded ahead of the training step")->capture_default_str();
  verb->add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  verb->add_option("--precision", o.precision,
                   "fp32; bf16 (autocast, CPUs with AVX512-BF16/AMX, or CUDA); fp16 (CUDA, with loss scaling)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}))
      ->capture_default_str();
  verb->add_flag("--channels_last,!--no_channels_last", o.channels_last,
                 "NHWC activations, faster convolutions on the CPU (default: on)");
  verb->add_flag("--resume", o.resume,
                 "continue from the newest checkpoint in --result_path (weights, optimizer, schedule, epoch)");
  verb->add_flag("--force", o.force,
                 "start over in a --result_path that holds another run: its train_log.jsonl and checkpoints are "
                 "removed first (without --resume or --force such a folder is refused)");
  verb->add_option("--holdout", o.holdout,
                   "fraction of videos kept out of training for the per-epoch evaluation")
      ->capture_default_str();
  verb->add_flag_function("--quiet", [&o](int64_t) { o.show_progress = false; }, "no progress bar");
  add_threads_option(verb, o.threads);
}

void add_gradient_checkpointing_flag(CLI::App* verb, bool& on) {
  verb->add_flag("--gradient_checkpointing", on,
                 "recompute the generator's encoders and decoder in the backward instead of keeping their "
                 "activations: less memory for a longer step, the same gradients (docs/training.md, Memory)");
}

void add_bn_batches_option(CLI::App* verb, int64_t& batches) {
  verb->add_option("--bn_batches", batches,
                   "before each epoch's evaluation and checkpoint, re-estimate the generator's BatchNorm running "
                   "statistics on this many of the epoch's batches (0: keep training's running averages, as "
                   "published)")
      ->capture_default_str();
}

void setup_sync(CLI::App& train) {
  auto o = std::make_shared<SyncTrainOptions>();
  auto* verb = train.add_subcommand(
      "sync", "Train SyncNet (5 mouth crops + 9 audio feature frames -> score map, 1 = in sync) on prepared "
              "data; writes syncnet_epoch_N.pth and syncnet_<m>mouth.pth in the published layout");
  add_run_options(verb, *o);
  verb->add_option("--epochs", o->epochs, "epochs to train")->capture_default_str();
  verb->add_option("--lr", o->lr, "Adam learning rate")->capture_default_str();
  verb->add_option("--decay", o->decay,
                   "the last N of --epochs decay the learning rate linearly, as the published frame and clip "
                   "trainers do (0: constant)")
      ->capture_default_str();
  verb->add_option("--checkpoint", o->checkpoint, "a checkpoint every N epochs")->capture_default_str();
  verb->add_option("--max_offset", o->max_offset,
                   "the evaluation scans audio offsets -K..K frames and reports the best one")
      ->capture_default_str();
  verb->add_option("--eval_clips", o->eval_clips, "held-out clips in the offset scan")->capture_default_str();
  verb->add_option("--lip_loss", o->lip_loss,
                   "weight of the lip-shape loss (a training-only head regresses lip opening and width from the "
                   "landmark CSVs; it makes the mouth encoder learn to see the lips); 0: off")
      ->capture_default_str();
  verb->callback([o] { train_sync(*o); });
}

void setup_frame(CLI::App& train) {
  auto o = std::make_shared<FrameTrainOptions>();
  auto* verb = train.add_subcommand(
      "frame", "Frame training of DINet (published train_DINet_frame.py): perceptual + LSGAN losses; writes "
               "netG_model_epoch_N.pth every --checkpoint epochs");
  add_run_options(verb, *o);
  verb->add_option("--lr_g", o->lr_g, "generator Adam learning rate")->capture_default_str();
  verb->add_option("--lr_dI", o->lr_dI, "discriminator Adam learning rate")->capture_default_str();
  verb->add_option("--non_decay", o->non_decay, "epochs at the full learning rate")->capture_default_str();
  verb->add_option("--decay", o->decay, "epochs of linear decay after them")->capture_default_str();
  verb->add_option("--checkpoint", o->checkpoint, "save when epoch % N == 0")->capture_default_str();
  verb->add_option("--start_epoch", o->start_epoch, "first epoch's number (without --resume)")
      ->capture_default_str();
  verb->add_option("--end_epoch", o->end_epoch, "stop after this epoch (0: non_decay + decay)")
      ->capture_default_str();
  verb->add_flag("--coarse2fine", o->coarse2fine, "start from --coarse_model_path's generator");
  verb->add_option("--coarse_model_path", o->coarse_model_path, "the previous (smaller mouth) stage's checkpoint");
  verb->add_option("--vgg_weights", o->vgg_weights,
                   "torchvision's vgg19-dcbb9e9d.pth for the perceptual loss, or 'random' (tests only)");
  verb->add_option("--lamb_perception", o->lamb_perception, "weight of the perceptual loss")->capture_default_str();
  verb->add_flag("--hflip", o->hflip, "mirror half of the samples (not in the published recipe)");
  add_gradient_checkpointing_flag(verb, o->gradient_checkpointing);
  add_bn_batches_option(verb, o->bn_batches);
  verb->add_option("--eval_samples", o->eval_samples, "fixed samples for the per-epoch mouth L1 and picture")
      ->capture_default_str();
  verb->callback([o] { train_frame(*o); });
}

void setup_clip(CLI::App& train) {
  auto o = std::make_shared<ClipTrainOptions>();
  auto* verb = train.add_subcommand(
      "clip", "Clip training of DINet (published train_DINet_clip.py): the 5 centre frames of each 9-frame clip, "
              "frame and clip discriminators, perceptual and SyncNet losses, from a frame-stage generator; writes "
              "netG_model_epoch_N.pth (net_g, net_dI, net_dV) every --checkpoint epochs");
  add_run_options(verb, *o);
  verb->add_option("--pretrained_frame_DINet_path", o->pretrained_frame_DINet_path,
                   "the frame stage's checkpoint (or the released clip_training_DINet_256mouth.pth): its net_g starts "
                   "the run");
  verb->add_option("--pretrained_syncnet_path", o->pretrained_syncnet_path,
                   "SyncNet of the sync loss, trained at the same mouth size (`dinet train sync`, or the released "
                   "syncnet_256mouth.pth)")
      ->required();
  verb->add_option("--lr_g", o->lr_g, "generator Adam learning rate")->capture_default_str();
  verb->add_option("--lr_dI", o->lr_dI, "frame discriminator Adam learning rate")->capture_default_str();
  verb->add_option("--lr_dV", o->lr_dV, "clip discriminator Adam learning rate (0: --lr_dI, as published)")
      ->capture_default_str();
  verb->add_option("--non_decay", o->non_decay, "epochs at the full learning rate")->capture_default_str();
  verb->add_option("--decay", o->decay, "epochs of linear decay after them")->capture_default_str();
  verb->add_option("--checkpoint", o->checkpoint, "save when epoch % N == 0")->capture_default_str();
  verb->add_option("--start_epoch", o->start_epoch, "first epoch's number (without --resume)")
      ->capture_default_str();
  verb->add_option("--end_epoch", o->end_epoch, "stop after this epoch (0: non_decay + decay)")
      ->capture_default_str();
  verb->add_option("--vgg_weights", o->vgg_weights,
                   "torchvision's vgg19-dcbb9e9d.pth for the perceptual loss, or 'random' (tests only)");
  verb->add_option("--lamb_perception", o->lamb_perception, "weight of the perceptual loss")->capture_default_str();
  verb->add_option("--lamb_syncnet_perception", o->lamb_syncnet_perception, "weight of the sync loss")
      ->capture_default_str();
  add_gradient_checkpointing_flag(verb, o->gradient_checkpointing);
  add_bn_batches_option(verb, o->bn_batches);
  verb->add_option("--eval_samples", o->eval_samples,
                   "fixed clips for the per-epoch mouth L1, SyncNet score and picture")
      ->capture_default_str();
  verb->callback([o] { train_clip(*o); });
}

}  // namespace

void setup_train(CLI::App& app) {
  auto* train = app.add_subcommand("train", "Train the networks on data made by `dinet prepare`");
  train->require_subcommand(1);
  setup_sync(*train);
  setup_frame(*train);
  setup_clip(*train);
}

}  // namespace dinet::cli
