// `dinet train frame`: the published frame stage (train_DINet_frame.py) as a stage of the
// training skeleton (train/trainer.h).
#include <ATen/ops/cat.h>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/train.h"
#include "train/fixed_evaluation.h"
#include "train/frame_step.h"
#include "train/gan_losses.h"
#include "train/optimizer_state.h"
#include "train/trainer.h"

namespace dinet {
namespace fs = std::filesystem;
using namespace dinet::train;

namespace {

constexpr size_t kFrameMinClips = 6;  // one source clip and five reference clips
constexpr int64_t kGridRows = 4;

struct MouthL1 {
  double generated = 0, copy = 0;  // the generator's; copying the first reference frame
};

// Mouth L1 over fixed batches split between the ranks; rank 0 has the first batch, and its
// generated frames go to `first_generated` (for the picture).
MouthL1 evaluate_mouth_l1(FrameStep& step, const std::vector<FrameBatch>& batches, const RunSetup& run,
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

class FrameStage : public TrainingStage<FrameBatch> {
 public:
  FrameStage(const FrameTrainOptions& o, const RunSetup& run)
      : o_(o), run_(run), step_(start_generator(o, run), Discriminator(3), perceptual_network(o.vgg_weights),
                               run.compute, o.lr_g, o.lr_dI, o.lamb_perception, run.dist) {
    description_ = {"frame", "netG_model_epoch_", "samples",
                    {{"loss_dI", "dI %.4f"}, {"loss_gI", "gI %.4f"}, {"loss_perception", "perception %.4f"}},
                    mouth_l1_figures(!run.heldout.videos.empty())};
  }

  const StageDescription& description() const override { return description_; }
  std::vector<torch::nn::Module*> trained_networks() override {
    return {step_.generator().get(), step_.discriminator().get()};
  }
  CheckpointMeta load_checkpoint(const fs::path& file) override {
    return load_frame_checkpoint(file, step_, o_.mouth_region_size, run_.train.audio);
  }
  void save_checkpoint(const fs::path& file, const CheckpointMeta& meta) override {
    save_frame_checkpoint(file, step_, with_loss_scale(meta, step_.scaler()), o_.lr_g, o_.lr_dI);
  }
  void start(const CheckpointMeta& meta, bool resumed) override {
    seed_ = static_cast<uint64_t>(meta.seed);
    const int64_t samples = std::max<int64_t>(o_.eval_samples, 1);
    const auto batches = [&](const TrainingSet& set) {
      return fixed_batches(set, samples, o_.batch_size, [&](std::span<const int32_t> videos, int64_t first) {
        return make_frame_batch(set, run_.face, videos, seed_, /*epoch=*/-1, first, /*hflip=*/false);
      });
    };
    eval_batches_ = batches(run_.heldout.videos.empty() ? run_.train : run_.heldout);
    if (!run_.heldout.videos.empty()) trained_batches_ = batches(run_.train);
  }
  nlohmann::json start_record() const override { return {{"gradient_checkpointing", o_.gradient_checkpointing}}; }
  nlohmann::json set_learning_rate(double factor) override {
    train::set_learning_rate(step_.optimizer_g(), o_.lr_g * factor);
    train::set_learning_rate(step_.optimizer_d(), o_.lr_dI * factor);
    return {{"lr_g", o_.lr_g * factor}};
  }
  FrameBatch load_batch(std::span<const int32_t> plan, int64_t first, int64_t count, int64_t epoch) override {
    return make_frame_batch(run_.train, run_.face, plan.subspan(first, count), seed_, epoch, first, o_.hflip);
  }
  std::vector<double> step(const FrameBatch& batch) override {
    const FrameLosses l = step_.step(batch);
    return {l.d, l.g_gan, l.perception};
  }
  std::vector<double> evaluate(int64_t epoch, const std::function<FrameBatch(int64_t)>& epoch_batch,
                               int64_t steps) override {
    // Evaluation and checkpoint with statistics of the weights as they are now.
    estimate_generator_statistics(step_, std::min(o_.bn_batches, steps), o_.workers, o_.prefetch, epoch_batch);
    at::Tensor first_generated;
    const MouthL1 l1 = evaluate_mouth_l1(step_, eval_batches_, run_, &first_generated);
    std::vector<double> figures{l1.generated, l1.copy};
    if (!trained_batches_.empty()) {
      const MouthL1 trained = evaluate_mouth_l1(step_, trained_batches_, run_);
      figures.insert(figures.end(), {trained.generated, trained.copy});
    }
    if (run_.dist.is_main()) {  // masked source, its references, generated, real
      const FrameBatch& shown = eval_batches_.front();
      const int64_t rows = std::min<int64_t>(kGridRows, shown.size());
      save_image_grid(o_.result_path / "samples" / ("epoch_" + std::to_string(epoch) + ".png"),
                      {shown.masked.narrow(0, 0, rows), shown.references.narrow(0, 0, rows),
                       first_generated.narrow(0, 0, rows), shown.target.narrow(0, 0, rows)});
    }
    return figures;
  }

 private:
  static DINet start_generator(const FrameTrainOptions& o, const RunSetup& run) {
    DINet generator(3, 15, run.train.audio.channels);
    if (o.coarse2fine)
      load_state_dict(*generator, read_state_dict(o.coarse_model_path, {"state_dict", "net_g"}),
                      o.coarse_model_path.string());
    generator->set_gradient_checkpointing(o.gradient_checkpointing);
    return generator;
  }

  const FrameTrainOptions& o_;
  const RunSetup& run_;
  FrameStep step_;
  StageDescription description_;
  std::vector<FrameBatch> eval_batches_, trained_batches_;
  uint64_t seed_ = 0;
};

}  // namespace

std::vector<EpochFigures> train_frame(const FrameTrainOptions& o) {
  const Schedule schedule = generator_schedule(o);
  if (o.coarse2fine && o.coarse_model_path.empty())
    throw Error("--coarse2fine", "needs --coarse_model_path (the previous stage's checkpoint)");
  check_vgg_weights_option(o.vgg_weights);
  RunSetup run = setup_run(o, kFrameMinClips, "frame");
  FrameStage stage(o, run);
  return run_stage(stage, o, run, schedule, resume_checkpoint(o, "netG_model_epoch_"));
}

}  // namespace dinet
