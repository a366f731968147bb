// `dinet train clip`: the published clip stage (train_DINet_clip.py) as a stage of the
// training skeleton (train/trainer.h).
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>

#include "dinet/error.h"
#include "dinet/train.h"
#include "train/clip_checkpoints.h"
#include "train/clip_samples.h"
#include "train/clip_step.h"
#include "train/fixed_evaluation.h"
#include "train/gan_losses.h"
#include "train/optimizer_state.h"
#include "train/trainer.h"

namespace dinet {
namespace fs = std::filesystem;
using namespace dinet::train;

namespace {

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
ClipEvaluation evaluate_clips(ClipStep& step, const std::vector<ClipBatch>& batches, const RunSetup& run,
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

class ClipStage : public TrainingStage<ClipBatch> {
 public:
  // `resume_from` (a checkpoint of this run's): the generator comes from it, not from
  // --pretrained_frame_DINet_path (the published trainer always starts from the latter).
  ClipStage(const ClipTrainOptions& o, const RunSetup& run, const std::optional<FoundCheckpoint>& resume_from)
      : o_(o),
        run_(run),
        lr_dV_(o.lr_dV > 0 ? o.lr_dV : o.lr_dI),
        step_(start_generator(o, run, resume_from.has_value()), Discriminator(3), Discriminator(15), perceptual_network(o.vgg_weights),
              load_sync_loss_network(o.pretrained_syncnet_path, "--pretrained_syncnet_path", o.mouth_region_size,
                                     run.train.audio),
              run.compute, run.face, ClipStepOptions{o.lr_g, o.lr_dI, lr_dV_, o.lamb_perception, o.lamb_syncnet_perception},
              run.dist),
        start_path_(resume_from ? resume_from->file : o.pretrained_frame_DINet_path) {
    description_ = {"clip", "netG_model_epoch_", "clips",
                    {{"loss_dI", "dI %.4f"}, {"loss_gI", "gI %.4f"}, {"loss_dV", "dV %.4f"}, {"loss_gV", "gV %.4f"},
                     {"loss_perception", "perception %.4f"}, {"loss_sync", "sync %.4f"}},
                    mouth_l1_figures(!run.heldout.videos.empty())};
    // With data held out the trained-on pair comes last, after the sync scores.
    description_.evaluation.insert(description_.evaluation.begin() + 2,
                                   {{"sync_generated", "SyncNet score generated %.3f"}, {"sync_real", "real %.3f"}});
  }

  const StageDescription& description() const override { return description_; }
  std::vector<torch::nn::Module*> trained_networks() override {
    // SyncNet and VGG are frozen and loaded alike everywhere.
    return {step_.generator().get(), step_.frame_discriminator().get(), step_.clip_discriminator().get()};
  }
  CheckpointMeta load_checkpoint(const fs::path& file) override {
    return load_clip_checkpoint(file, step_, o_.mouth_region_size, run_.train.audio);
  }
  void save_checkpoint(const fs::path& file, const CheckpointMeta& meta) override {
    save_clip_checkpoint(file, step_, with_loss_scale(meta, step_.scaler()), o_.lr_g, o_.lr_dI, lr_dV_);
  }
  void start(const CheckpointMeta& meta, bool resumed) override {
    seed_ = static_cast<uint64_t>(meta.seed);
    const int64_t clips = std::max<int64_t>(o_.eval_samples, 1);
    const auto batches = [&](const TrainingSet& set) {
      return fixed_batches(set, clips, o_.batch_size, [&](std::span<const int32_t> videos, int64_t first) {
        return make_clip_batch(set, run_.face, videos, seed_, /*epoch=*/-1, first);
      });
    };
    eval_batches_ = batches(run_.heldout.videos.empty() ? run_.train : run_.heldout);
    if (!run_.heldout.videos.empty()) trained_batches_ = batches(run_.train);
  }
  nlohmann::json start_record() const override {
    return {{"pretrained_frame_DINet_path", start_path_.string()},
            {"pretrained_syncnet_path", o_.pretrained_syncnet_path.string()},
            {"lamb_syncnet_perception", o_.lamb_syncnet_perception},
            {"gradient_checkpointing", o_.gradient_checkpointing}};
  }
  nlohmann::json set_learning_rate(double factor) override {
    train::set_learning_rate(step_.optimizer_g(), o_.lr_g * factor);
    train::set_learning_rate(step_.optimizer_dI(), o_.lr_dI * factor);
    train::set_learning_rate(step_.optimizer_dV(), lr_dV_ * factor);
    return {{"lr_g", o_.lr_g * factor}};
  }
  ClipBatch load_batch(std::span<const int32_t> plan, int64_t first, int64_t count, int64_t epoch) override {
    return make_clip_batch(run_.train, run_.face, plan.subspan(first, count), seed_, epoch, first);
  }
  std::vector<double> step(const ClipBatch& batch) override {
    const ClipLosses l = step_.step(batch);
    return {l.d_frame, l.g_frame, l.d_clip, l.g_clip, l.perception, l.sync};
  }
  std::vector<double> evaluate(int64_t epoch, const std::function<ClipBatch(int64_t)>& epoch_batch,
                               int64_t steps) override {
    // Evaluation and checkpoint with statistics of the weights as they are now.
    estimate_generator_statistics(step_, std::min(o_.bn_batches, steps), o_.workers, o_.prefetch, epoch_batch);
    at::Tensor first_generated;
    const ClipEvaluation e = evaluate_clips(step_, eval_batches_, run_, &first_generated);
    std::vector<double> figures{e.mouth_l1, e.copy_reference_l1, e.sync_generated, e.sync_real};
    if (!trained_batches_.empty()) {
      const ClipEvaluation trained = evaluate_clips(step_, trained_batches_, run_);
      figures.insert(figures.end(), {trained.mouth_l1, trained.copy_reference_l1});
    }
    if (run_.dist.is_main()) {
      // One row per frame of the first fixed clip: masked source, its 5 references, generated, real.
      const ClipBatch& shown = eval_batches_.front();
      save_image_grid(o_.result_path / "samples" / ("epoch_" + std::to_string(epoch) + ".png"),
                      {first_clip(shown.masked, shown.clips()), first_clip(shown.references, shown.clips()),
                       first_clip(first_generated, shown.clips()), first_clip(shown.target, shown.clips())});
    }
    return figures;
  }

 private:
  static DINet start_generator(const ClipTrainOptions& o, const RunSetup& run, bool resuming) {
    DINet generator(3, 15, run.train.audio.channels);
    if (!resuming) {
      if (o.pretrained_frame_DINet_path.empty())
        throw Error("--pretrained_frame_DINet_path",
                    "required: the frame stage's checkpoint (netG_model_epoch_N.pth of `dinet train frame`) or the "
                    "released clip_training_DINet_256mouth.pth");
      generator = load_start_generator(o.pretrained_frame_DINet_path, "--pretrained_frame_DINet_path",
                                       o.mouth_region_size, run.train.audio);
    }
    generator->set_gradient_checkpointing(o.gradient_checkpointing);
    return generator;
  }

  const ClipTrainOptions& o_;
  const RunSetup& run_;
  double lr_dV_;
  ClipStep step_;
  fs::path start_path_;  // where the generator came from
  StageDescription description_;
  std::vector<ClipBatch> eval_batches_, trained_batches_;
  uint64_t seed_ = 0;
};

}  // namespace

std::vector<EpochFigures> train_clip(const ClipTrainOptions& o) {
  const Schedule schedule = generator_schedule(o);
  if (o.pretrained_syncnet_path.empty())
    throw Error("--pretrained_syncnet_path", "required: the SyncNet of the sync loss (`dinet train sync`'s "
                                             "syncnet_<m>mouth.pth, or the released syncnet_256mouth.pth)");
  check_vgg_weights_option(o.vgg_weights);
  RunSetup run = setup_run(o, kClipMinClips, "clip");
  const auto resume_from = resume_checkpoint(o, "netG_model_epoch_");
  ClipStage stage(o, run, resume_from);
  return run_stage(stage, o, run, schedule, resume_from);
}

}  // namespace dinet
