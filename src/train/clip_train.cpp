// `dinet train clip`: the published clip stage (train_DINet_clip.py), top to bottom.
#include <ATen/ops/cat.h>
#include <ATen/ops/arange.h>

#include <cstdio>

#include "dinet/error.h"
#include "dinet/train.h"
#include "train/clip_checkpoints.h"
#include "train/clip_samples.h"
#include "train/clip_step.h"
#include "train/epoch_steps.h"
#include "train/frame_step.h"
#include "train/gan_losses.h"
#include "train/optimizer_state.h"

namespace dinet {
namespace fs = std::filesystem;
using namespace dinet::train;

namespace {

const std::vector<LossName> kClipLosses = {{"loss_dI", "dI"}, {"loss_gI", "gI"},
                                            {"loss_dV", "dV"}, {"loss_gV", "gV"},
                                            {"loss_perception", "perception"}, {"loss_sync", "sync"}};

// Fixed clips for the per-epoch evaluation and picture: the same every epoch and run.
std::vector<ClipBatch> evaluation_batches(const TrainingSet& set, const FaceSize& face, int64_t clips,
                                          int64_t batch_size, uint64_t seed) {
  std::vector<int32_t> videos;
  for (int64_t i = 0; i < clips; ++i) videos.push_back(static_cast<int32_t>(i % set.videos.size()));
  std::vector<ClipBatch> batches;
  for (int64_t first = 0; first < clips; first += batch_size) {
    const int64_t n = std::min(batch_size, clips - first);
    batches.push_back(make_clip_batch(set, face, std::span(videos).subspan(first, n), seed, /*epoch=*/-1, first));
  }
  return batches;
}

// Rows of the first clip's five frames in a batch's frame-major layout.
at::Tensor first_clip(const at::Tensor& frames, int64_t clips) {
  return frames.index_select(0, at::arange(0, kClipFrames * clips, clips));
}

struct ClipEvaluation {
  double mouth_l1 = 0, copy_reference_l1 = 0, sync_generated = 0, sync_real = 0;
};

// Mouth L1 (generated, and the first reference copied as is) and SyncNet scores (generated,
// and real for scale) over fixed clips. The batches split between the ranks (rank 0 has the
// first, for the picture); ratios of the means over the ranks are ratios of the sums.
ClipEvaluation evaluate(ClipStep& step, const std::vector<ClipBatch>& batches, const RunSetup& run,
                        at::Tensor* first_generated = nullptr) {
  double generated_l1 = 0, copy_l1 = 0, sync_generated = 0, sync_real = 0, frames = 0, clips = 0;
  for (size_t k = run.dist.rank(); k < batches.size(); k += run.dist.world_size()) {
    const ClipBatch& b = batches[k];
    const at::Tensor generated = step.generate(b);
    if (first_generated && !first_generated->defined()) *first_generated = generated;
    generated_l1 += mouth_l1(generated, b.target, run.face) * b.frames();
    copy_l1 += mouth_l1(b.references.narrow(1, 0, 3), b.target, run.face) * b.frames();
    sync_generated += step.sync_scores(generated, b).sum().item<double>();
    sync_real += step.sync_scores(b.target, b).sum().item<double>();
    frames += b.frames();
    clips += b.clips();
  }
  const std::vector<double> sums =
      mean_over_ranks(run.dist, {generated_l1, copy_l1, sync_generated, sync_real, frames, clips});
  return {sums[0] / sums[4], sums[1] / sums[4], sums[2] / sums[5], sums[3] / sums[5]};
}

}  // namespace

std::vector<ClipEpochResult> train_clip(const ClipTrainOptions& o) {
  if (o.checkpoint < 1) throw Error("--checkpoint", "must be at least 1");
  if (o.non_decay < 0 || o.decay < 0) throw Error("--non_decay/--decay", "must not be negative");
  if (o.pretrained_syncnet_path.empty())
    throw Error("--pretrained_syncnet_path", "required: the SyncNet of the sync loss (`dinet train sync`'s "
                                             "syncnet_<m>mouth.pth, or the released syncnet_256mouth.pth)");
  const double lr_dV = o.lr_dV > 0 ? o.lr_dV : o.lr_dI;
  check_vgg_weights_option(o.vgg_weights);
  RunSetup run = setup_run(o, kClipMinClips, "clip");
  VGG19 vgg = perceptual_network(o.vgg_weights);
  const TrainingSet& train = run.train;
  const TrainingSet& eval_set = run.heldout.videos.empty() ? run.train : run.heldout;

  SyncNet syncnet =
      load_sync_loss_network(o.pretrained_syncnet_path, "--pretrained_syncnet_path", o.mouth_region_size, train.audio);
  const auto resume_from = o.resume ? newest_checkpoint(o.result_path, "netG_model_epoch_") : std::nullopt;
  // The published trainer always starts from the frame stage's generator; a resumed run
  // takes it from its own checkpoint instead.
  DINet generator(3, 15, train.audio.channels);
  if (!resume_from) {
    if (o.pretrained_frame_DINet_path.empty())
      throw Error("--pretrained_frame_DINet_path",
                  "required: the frame stage's checkpoint (netG_model_epoch_N.pth of `dinet train frame`) or the "
                  "released clip_training_DINet_256mouth.pth");
    generator = load_start_generator(o.pretrained_frame_DINet_path, "--pretrained_frame_DINet_path",
                                     o.mouth_region_size, train.audio);
  }
  generator->set_gradient_checkpointing(o.gradient_checkpointing);
  ClipStepOptions step_options{o.lr_g, o.lr_dI, lr_dV, o.lamb_perception, o.lamb_syncnet_perception};
  ClipStep step(generator, Discriminator(3), Discriminator(15), vgg, syncnet, run.compute, run.face, step_options,
                run.dist);
  const bool main = run.dist.is_main();

  CheckpointMeta meta{"clip", o.mouth_region_size, train.audio, o.start_epoch - 1, 0, o.seed};
  if (resume_from) {
    meta = load_clip_checkpoint(resume_from->file, step, o.mouth_region_size, train.audio);
    if (meta.seed < 0) meta.seed = o.seed;
    if (main)
      std::fprintf(stderr, "dinet train clip: resuming from %s (epoch %lld done)\n", resume_from->file.c_str(),
                   static_cast<long long>(meta.epoch));
  } else if (o.resume && main) {
    std::fprintf(stderr, "dinet train clip: no checkpoint in %s to resume from; starting at epoch %lld from %s\n",
                 o.result_path.c_str(), static_cast<long long>(o.start_epoch), o.pretrained_frame_DINet_path.c_str());
  }
  // Data parallel: every rank at the same epoch, the trained networks (BatchNorm synchronized)
  // starting from rank 0's weights; SyncNet and VGG are frozen and loaded alike everywhere.
  check_same_start(run.dist, meta.epoch);
  share_network(run.dist, *step.generator());
  share_network(run.dist, *step.frame_discriminator());
  share_network(run.dist, *step.clip_discriminator());
  const uint64_t seed = static_cast<uint64_t>(meta.seed);
  const int64_t last_epoch = o.end_epoch > 0 ? o.end_epoch : o.non_decay + o.decay;
  RankLog log(run.dist, o.result_path / "train_log.jsonl");
  nlohmann::json start = run_record(o, run, "clip");
  start["first_epoch"] = meta.epoch + 1;
  start["last_epoch"] = last_epoch;
  start["pretrained_frame_DINet_path"] = resume_from ? resume_from->file.string() : o.pretrained_frame_DINet_path.string();
  start["pretrained_syncnet_path"] = o.pretrained_syncnet_path.string();
  start["lamb_syncnet_perception"] = o.lamb_syncnet_perception;
  start["gradient_checkpointing"] = o.gradient_checkpointing;
  log.write(start);
  const int64_t eval_clips = std::max<int64_t>(o.eval_samples, 1);
  const std::vector<ClipBatch> eval_batches = evaluation_batches(eval_set, run.face, eval_clips, o.batch_size, seed);
  // With data held out, the trained-on data is evaluated too, as in the frame stage.
  const std::vector<ClipBatch> trained_batches =
      run.heldout.videos.empty() ? std::vector<ClipBatch>{}
                                 : evaluation_batches(train, run.face, eval_clips, o.batch_size, seed);

  std::vector<ClipEpochResult> results;
  for (int64_t epoch = meta.epoch + 1; epoch <= last_epoch; ++epoch) {
    const double factor = lr_factor(meta.scheduler_steps, o.non_decay, o.decay);
    set_learning_rate(step.optimizer_g(), o.lr_g * factor);
    set_learning_rate(step.optimizer_dI(), o.lr_dI * factor);
    set_learning_rate(step.optimizer_dV(), lr_dV * factor);
    const std::vector<int32_t> plan = epoch_plan(train.videos.size(), o.augment_num, seed, epoch);
    const EpochShard shard = epoch_shard(plan.size(), o.batch_size, run.dist);  // drop_last
    const auto load = [&](int64_t i) {
      return make_clip_batch(train, run.face, std::span(plan).subspan(shard.first(i), o.batch_size), seed, epoch,
                             shard.first(i));
    };
    Prefetcher<ClipBatch> loader(shard.steps, o.workers, o.prefetch, load);
    const EpochContext context{run.dist, log, epoch, last_epoch, o.show_progress, "clips"};
    const EpochSteps done = run_epoch_steps(context, shard, loader, kClipLosses, {{"lr_g", o.lr_g * factor}},
                                            [&](const ClipBatch& batch) {
                                              const ClipLosses l = step.step(batch);
                                              return std::vector<double>{l.d_frame, l.g_frame, l.d_clip,
                                                                         l.g_clip,  l.perception, l.sync};
                                            });
    ClipEpochResult r{epoch};
    r.loss_dI = done.mean[0];
    r.loss_gI = done.mean[1];
    r.loss_dV = done.mean[2];
    r.loss_gV = done.mean[3];
    r.loss_perception = done.mean[4];
    r.loss_sync = done.mean[5];
    ++meta.scheduler_steps;  // the published update_learning_rate after every epoch
    meta.epoch = epoch;

    // Evaluation and checkpoint with statistics of the weights as they are now.
    estimate_generator_statistics(step, std::min(o.bn_batches, shard.steps), o.workers, o.prefetch, load);
    at::Tensor first_generated;
    const ClipEvaluation evaluation = evaluate(step, eval_batches, run, &first_generated);
    r.mouth_l1 = evaluation.mouth_l1;
    r.copy_reference_l1 = evaluation.copy_reference_l1;
    r.sync_generated = evaluation.sync_generated;
    r.sync_real = evaluation.sync_real;
    if (!trained_batches.empty()) {
      const ClipEvaluation trained = evaluate(step, trained_batches, run);
      r.trained_mouth_l1 = trained.mouth_l1;
      r.trained_copy_reference_l1 = trained.copy_reference_l1;
    }
    r.wait_fraction = done.wait_fraction;
    r.samples_per_second = shard.steps * shard.global_batch() / std::max(done.seconds, 1e-9);
    results.push_back(r);
    if (!main) continue;  // the rest writes files
    // One row per frame of the first fixed clip: masked source, its 5 references, generated, real.
    const ClipBatch& shown = eval_batches.front();
    save_image_grid(o.result_path / "samples" / ("epoch_" + std::to_string(epoch) + ".png"),
                    {first_clip(shown.masked, shown.clips()), first_clip(shown.references, shown.clips()),
                     first_clip(first_generated, shown.clips()), first_clip(shown.target, shown.clips())});
    const bool save = epoch % o.checkpoint == 0;
    if (save) {
      if (step.scaler().enabled()) {
        meta.grad_scale = step.scaler().scale_value();
        meta.grad_growth_tracker = step.scaler().growth_tracker();
      }
      save_clip_checkpoint(o.result_path / ("netG_model_epoch_" + std::to_string(epoch) + ".pth"), step, meta, o.lr_g,
                           o.lr_dI, lr_dV);
    }
    nlohmann::json record = {{"event", "epoch"}, {"epoch", epoch}, {"loss_dI", r.loss_dI}, {"loss_gI", r.loss_gI},
                             {"loss_dV", r.loss_dV}, {"loss_gV", r.loss_gV}, {"loss_perception", r.loss_perception},
                             {"loss_sync", r.loss_sync}, {"mouth_l1", r.mouth_l1},
                             {"copy_reference_l1", r.copy_reference_l1}, {"sync_generated", r.sync_generated},
                             {"sync_real", r.sync_real}, {"samples_per_s", r.samples_per_second},
                             {"frames_per_s", kClipFrames * r.samples_per_second}, {"wait_fraction", r.wait_fraction},
                             {"seconds", done.seconds}, {"checkpoint", save}};
    const std::string trained_l1 = trained_on_note(r.trained_mouth_l1, r.trained_copy_reference_l1, record);
    log.write(record);
    std::fprintf(stderr,
                 "epoch %lld: dI %.4f gI %.4f dV %.4f gV %.4f perception %.4f sync %.4f | mouth L1 %s%.4f (copy a "
                 "reference: %.4f)%s | SyncNet score generated %.3f, real %.3f | %.2f clips/s, waited on data "
                 "%.1f%% of the time\n",
                 static_cast<long long>(epoch), r.loss_dI, r.loss_gI, r.loss_dV, r.loss_gV, r.loss_perception,
                 r.loss_sync, trained_batches.empty() ? "" : "held out ", r.mouth_l1, r.copy_reference_l1,
                 trained_l1.c_str(), r.sync_generated, r.sync_real, r.samples_per_second, 100 * r.wait_fraction);
  }
  return results;
}

}  // namespace dinet
