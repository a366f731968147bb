// `dinet train frame`: the published frame stage (train_DINet_frame.py), top to bottom.
#include <ATen/ops/cat.h>

#include <cstdio>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/train.h"
#include "train/epoch_steps.h"
#include "train/frame_step.h"
#include "train/gan_losses.h"
#include "train/optimizer_state.h"
#include "train/train_checkpoints.h"

namespace dinet {
namespace fs = std::filesystem;
using namespace dinet::train;

namespace {

const std::vector<LossName> kFrameLosses = {
    {"loss_dI", "dI"}, {"loss_gI", "gI"}, {"loss_perception", "perception"}};

constexpr size_t kFrameMinClips = 6;  // one source clip and five reference clips
constexpr int64_t kGridRows = 4;

// Fixed samples for the per-epoch evaluation and picture: the same every epoch and run.
std::vector<FrameBatch> evaluation_batches(const TrainingSet& set, const FaceSize& face, int64_t samples,
                                           int64_t batch_size, uint64_t seed) {
  std::vector<int32_t> videos;
  for (int64_t i = 0; i < samples; ++i) videos.push_back(static_cast<int32_t>(i % set.videos.size()));
  std::vector<FrameBatch> batches;
  for (int64_t first = 0; first < samples; first += batch_size) {
    const int64_t n = std::min(batch_size, samples - first);
    batches.push_back(make_frame_batch(set, face, std::span(videos).subspan(first, n), seed, /*epoch=*/-1, first,
                                       /*hflip=*/false));
  }
  return batches;
}

struct MouthL1 {
  double generated = 0, copy = 0;  // the generator's; copying the first reference frame
};

// Mouth L1 over fixed batches split between the ranks; rank 0 has the first batch, and its
// generated frames go to `first_generated` (for the picture).
MouthL1 evaluate(FrameStep& step, const std::vector<FrameBatch>& batches, const RunSetup& run,
                 at::Tensor* first_generated = nullptr) {
  double generated = 0, copy = 0, counted = 0;
  for (size_t k = run.dist.rank(); k < batches.size(); k += run.dist.world_size()) {
    const FrameBatch& b = batches[k];
    const at::Tensor out = step.generate(b);
    if (first_generated && !first_generated->defined()) *first_generated = out;
    generated += mouth_l1(out, b.target, run.face) * b.size();
    copy += mouth_l1(b.references.narrow(1, 0, 3), b.target, run.face) * b.size();
    counted += b.size();
  }
  // Ratios of the means over the ranks are ratios of the sums.
  const std::vector<double> mean = mean_over_ranks(run.dist, {generated, copy, counted});
  return {mean[0] / mean[2], mean[1] / mean[2]};
}

}  // namespace

std::vector<FrameEpochResult> train_frame(const FrameTrainOptions& o) {
  if (o.checkpoint < 1) throw Error("--checkpoint", "must be at least 1");
  if (o.non_decay < 0 || o.decay < 0) throw Error("--non_decay/--decay", "must not be negative");
  if (o.coarse2fine && o.coarse_model_path.empty())
    throw Error("--coarse2fine", "needs --coarse_model_path (the previous stage's checkpoint)");
  check_vgg_weights_option(o.vgg_weights);
  RunSetup run = setup_run(o, kFrameMinClips, "frame");
  VGG19 vgg = perceptual_network(o.vgg_weights);
  const TrainingSet& train = run.train;
  const TrainingSet& eval_set = run.heldout.videos.empty() ? run.train : run.heldout;

  DINet generator(3, 15, train.audio.channels);
  if (o.coarse2fine)
    load_state_dict(*generator, read_state_dict(o.coarse_model_path, {"state_dict", "net_g"}),
                    o.coarse_model_path.string());
  generator->set_gradient_checkpointing(o.gradient_checkpointing);
  FrameStep step(generator, Discriminator(3), vgg, run.compute, o.lr_g, o.lr_dI, o.lamb_perception, run.dist);
  const bool main = run.dist.is_main();

  CheckpointMeta meta{"frame", o.mouth_region_size, train.audio, o.start_epoch - 1, 0, o.seed};
  if (o.resume) {
    if (const auto found = newest_checkpoint(o.result_path, "netG_model_epoch_")) {
      meta = load_frame_checkpoint(found->file, step, o.mouth_region_size, train.audio);
      if (meta.seed < 0) meta.seed = o.seed;
      if (main)
        std::fprintf(stderr, "dinet train frame: resuming from %s (epoch %lld done)\n", found->file.c_str(),
                   static_cast<long long>(meta.epoch));
    } else if (main) {
      std::fprintf(stderr, "dinet train frame: no checkpoint in %s to resume from; starting at epoch %lld\n",
                   o.result_path.c_str(), static_cast<long long>(o.start_epoch));
    }
  }
  check_same_start(run.dist, meta.epoch);
  share_network(run.dist, *step.generator());
  share_network(run.dist, *step.discriminator());
  const uint64_t seed = static_cast<uint64_t>(meta.seed);
  const int64_t last_epoch = o.end_epoch > 0 ? o.end_epoch : o.non_decay + o.decay;
  RankLog log(run.dist, o.result_path / "train_log.jsonl");
  nlohmann::json start = run_record(o, run, "frame");
  start["first_epoch"] = meta.epoch + 1;
  start["last_epoch"] = last_epoch;
  start["gradient_checkpointing"] = o.gradient_checkpointing;
  log.write(start);
  const int64_t eval_samples = std::max<int64_t>(o.eval_samples, 1);
  const std::vector<FrameBatch> eval_batches = evaluation_batches(eval_set, run.face, eval_samples, o.batch_size, seed);
  // With data held out, the trained-on data is evaluated too: the gap says how far the
  // generator carries to faces it has not seen (docs/training.md).
  const std::vector<FrameBatch> trained_batches =
      run.heldout.videos.empty() ? std::vector<FrameBatch>{}
                                 : evaluation_batches(train, run.face, eval_samples, o.batch_size, seed);

  std::vector<FrameEpochResult> results;
  for (int64_t epoch = meta.epoch + 1; epoch <= last_epoch; ++epoch) {
    const double factor = lr_factor(meta.scheduler_steps, o.non_decay, o.decay);
    set_learning_rate(step.optimizer_g(), o.lr_g * factor);
    set_learning_rate(step.optimizer_d(), o.lr_dI * factor);
    const std::vector<int32_t> plan = epoch_plan(train.videos.size(), o.augment_num, seed, epoch);
    const EpochShard shard = epoch_shard(plan.size(), o.batch_size, run.dist);  // drop_last
    const auto load = [&](int64_t i) {
      return make_frame_batch(train, run.face, std::span(plan).subspan(shard.first(i), o.batch_size), seed, epoch,
                              shard.first(i), o.hflip);
    };
    Prefetcher<FrameBatch> loader(shard.steps, o.workers, o.prefetch, load);
    const EpochContext context{run.dist, log, epoch, last_epoch, o.show_progress, "samples"};
    const EpochSteps done = run_epoch_steps(context, shard, loader, kFrameLosses, {{"lr_g", o.lr_g * factor}},
                                            [&](const FrameBatch& batch) {
                                              const FrameLosses l = step.step(batch);
                                              return std::vector<double>{l.d, l.g_gan, l.perception};
                                            });
    FrameEpochResult r{epoch};
    r.loss_dI = done.mean[0];
    r.loss_gI = done.mean[1];
    r.loss_perception = done.mean[2];
    ++meta.scheduler_steps;  // the published update_learning_rate after every epoch
    meta.epoch = epoch;

    // Evaluation and checkpoint with statistics of the weights as they are now.
    estimate_generator_statistics(step, std::min(o.bn_batches, shard.steps), o.workers, o.prefetch, load);
    at::Tensor first_generated;
    const MouthL1 l1 = evaluate(step, eval_batches, run, &first_generated);
    r.mouth_l1 = l1.generated;
    r.copy_reference_l1 = l1.copy;
    if (!trained_batches.empty()) {
      const MouthL1 trained = evaluate(step, trained_batches, run);
      r.trained_mouth_l1 = trained.generated;
      r.trained_copy_reference_l1 = trained.copy;
    }
    r.wait_fraction = done.wait_fraction;
    r.samples_per_second = shard.steps * shard.global_batch() / std::max(done.seconds, 1e-9);
    results.push_back(r);
    if (!main) continue;  // the rest writes files
    const FrameBatch& shown = eval_batches.front();
    const int64_t rows = std::min<int64_t>(kGridRows, shown.size());
    save_image_grid(o.result_path / "samples" / ("epoch_" + std::to_string(epoch) + ".png"),
                    {shown.masked.narrow(0, 0, rows), shown.references.narrow(0, 0, rows),
                     first_generated.narrow(0, 0, rows), shown.target.narrow(0, 0, rows)});
    if (epoch % o.checkpoint == 0) {
      if (step.scaler().enabled()) {
        meta.grad_scale = step.scaler().scale_value();
        meta.grad_growth_tracker = step.scaler().growth_tracker();
      }
      save_frame_checkpoint(o.result_path / ("netG_model_epoch_" + std::to_string(epoch) + ".pth"), step, meta,
                            o.lr_g, o.lr_dI);
    }
    nlohmann::json record = {{"event", "epoch"}, {"epoch", epoch}, {"loss_dI", r.loss_dI}, {"loss_gI", r.loss_gI},
                             {"loss_perception", r.loss_perception}, {"mouth_l1", r.mouth_l1},
                             {"copy_reference_l1", r.copy_reference_l1}, {"samples_per_s", r.samples_per_second},
                             {"wait_fraction", r.wait_fraction}, {"seconds", done.seconds},
                             {"checkpoint", epoch % o.checkpoint == 0}};
    const std::string trained_l1 = trained_on_note(r.trained_mouth_l1, r.trained_copy_reference_l1, record);
    log.write(record);
    std::fprintf(stderr,
                 "epoch %lld: dI %.4f gI %.4f perception %.4f | mouth L1 %s%.4f (copy a reference: %.4f)%s | "
                 "%.2f samples/s, waited on data %.1f%% of the time\n",
                 static_cast<long long>(epoch), r.loss_dI, r.loss_gI, r.loss_perception,
                 trained_batches.empty() ? "" : "held out ", r.mouth_l1, r.copy_reference_l1,
                 trained_l1.c_str(), r.samples_per_second, 100 * r.wait_fraction);
  }
  return results;
}

}  // namespace dinet
