// `dinet train sync`: trains the SyncNet that clip training uses as its lip-sync loss
// (reference 3.2); the published project ships one but not the code that trained it.
//
// The loss: MSE of every score of the map to 1 for in-sync pairs and to 0 for off-sync ones.
// Clip training then pushes the generator with 0.1 * MSE(SyncNet(...), 1) on the raw scores,
// so the scores must mean "1 = in sync, 0 = not" on that same scale: a sigmoid/BCE network
// would output unbounded logits that MSE(., 1) would pull back down even when in sync.
// Plus, with --lip_loss, the lip-shape loss of a training-only head (lip_shapes.h).
#include <ATen/ops/mse_loss.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <cstdio>

#include "dinet/error.h"
#include "dinet/train.h"
#include "train/frame_step.h"
#include "train/lip_shapes.h"
#include "train/optimizer_state.h"
#include "train/sync_eval.h"
#include "train/trainer.h"

namespace dinet {
namespace fs = std::filesystem;
using namespace dinet::train;
namespace {

// He (Kaiming-normal, fan-in, ReLU) weights, then every convolution rescaled on a batch of
// the training data so its outputs have zero mean and unit variance (the network has no
// normalisation layers; see SyncNetImpl::standardise_activations), then the last conv, which
// gives the score, scaled down with its bias at 0.5, so training starts from scores near 0.5
// that already vary with the input. With PyTorch's default init the mouth embedding varies
// across a batch by 2e-6 against a mean of 0.03; with He init alone by about 1.5% of its
// mean, which training did not amplify (docs/training.md).
void init_for_training(SyncNet& net, const TrainingSet& train, const FaceSize& face, const Compute& compute,
                       uint64_t seed) {
  torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters()) {
    if (p.key().ends_with(".bias")) {
      p.value().zero_();
    } else {
      torch::nn::init::kaiming_normal_(p.value(), 0, torch::kFanIn, torch::kReLU);
    }
  }
  // 64 pairs at mouth 64, fewer for larger mouths (activation memory), matched as in training.
  const int64_t count = std::clamp<int64_t>(64 * 64 * 64 / (face.mouth * face.mouth), 8, 64);
  std::vector<SyncPair> pairs;
  for (int64_t k = 0; k < count; ++k) {
    auto rng = sample_rng(seed, 0, k - k % 2, 1);
    const auto video = static_cast<int32_t>((k / 2) % train.videos.size());
    pairs.push_back(draw_matched_sync_pair(train, video, k % 2 == 0, rng));
  }
  const SyncBatch b = make_sync_batch(train, face, pairs);
  net->standardise_activations(compute.input(b.mouths), compute.input(b.audio));
  auto params = net->named_parameters();
  params["merge_encoder.2.weight"].mul_(0.1);
  params["merge_encoder.2.bias"].fill_(0.5);
}

// Adds the landmark CSVs' lip shapes to the training videos; false when none has them.
bool attach_lips(TrainingSet& train, bool main) {
  const std::vector<std::string> missing = attach_lip_shapes(train);
  const bool any = missing.size() < train.videos.size();
  if (main && !missing.empty())
    std::fprintf(stderr,
                 "dinet train sync: %zu of %zu videos have no landmark CSV in split_video_25fps_landmark_openface "
                 "(e.g. %s): the lip-shape loss %s\n",
                 missing.size(), train.videos.size(), missing.front().c_str(), any ? "leaves them out" : "is off");
  return any;
}

class SyncStage : public TrainingStage<SyncBatch> {
 public:
  SyncStage(const SyncTrainOptions& o, RunSetup& run)
      : o_(o),
        run_(run),
        lips_(o.lip_loss > 0 && attach_lips(run.train, run.dist.is_main())),
        net_(15, run.train.audio.channels, 128),
        adam_(net_->parameters(), torch::optim::AdamOptions(o.lr)),
        lip_head_(128, 5 * kLipMeasures),
        lip_adam_(lip_head_->parameters(), torch::optim::AdamOptions(o.lr)),
        scaler_(run.compute.precision == "fp16") {
    run.compute.place(*net_);
    run.compute.place(*lip_head_);
    description_ = {"sync", "syncnet_epoch_", "samples", {{"loss", "loss %.4f"}},
                    {{"heldout_accuracy", "held-out accuracy %.1f%%", 100},
                     {"heldout_pairs", "of %.0f pairs"},
                     {"mean_abs_offset", "offset scan -" + std::to_string(o.max_offset) + ".." +
                                             std::to_string(o.max_offset) + ": mean |offset| %.2f frames"},
                     {"offset_zero_fraction", "%.0f%% at 0", 100},
                     {"offset_clips", "of %.0f clips"}}};
    if (lips_) description_.losses.push_back({"lip_loss", "lip %.3f"});
    if (run.heldout.videos.empty() && run.dist.is_main())
      std::fprintf(stderr, "dinet train sync: --holdout 0: accuracy and offsets are measured on training data\n");
  }

  const StageDescription& description() const override { return description_; }
  std::vector<torch::nn::Module*> trained_networks() override { return {net_.get(), lip_head_.get()}; }
  CheckpointMeta load_checkpoint(const fs::path& file) override {
    CheckpointMeta meta = load_sync_checkpoint(file, net_, adam_, o_.mouth_region_size, run_.train.audio, lip_state());
    meta.scheduler_steps = meta.epoch;  // the schedule runs from epoch 1, whatever the file says
    if (meta.grad_scale > 0) scaler_.restore(meta.grad_scale, meta.grad_growth_tracker);
    return meta;
  }
  void save_checkpoint(const fs::path& file, const CheckpointMeta& meta) override {
    save_sync_checkpoint(file, net_, &adam_, with_loss_scale(meta, scaler_), o_.lr, lip_state());
  }
  void start(const CheckpointMeta& meta, bool resumed) override {
    seed_ = static_cast<uint64_t>(meta.seed);
    if (!resumed) init_for_training(net_, run_.train, run_.face, run_.compute, seed_);
    const TrainingSet& eval_set = run_.heldout.videos.empty() ? run_.train : run_.heldout;
    evaluator_.emplace(eval_set, run_.face, o_.max_offset, o_.eval_clips, seed_);
  }
  nlohmann::json set_learning_rate(double factor) override {
    train::set_learning_rate(adam_, o_.lr * factor);
    train::set_learning_rate(lip_adam_, o_.lr * factor);
    return {{"lr", o_.lr * factor}};
  }
  SyncBatch load_batch(std::span<const int32_t> plan, int64_t first, int64_t count, int64_t epoch) override {
    std::vector<SyncPair> pairs;
    for (int64_t k = first; k < first + count; ++k) {
      // Samples 2j and 2j+1: the same mouths with their own and with other audio.
      const int64_t anchor = k - k % 2;
      auto rng = sample_rng(seed_, epoch, anchor);
      pairs.push_back(draw_matched_sync_pair(run_.train, plan[anchor], k % 2 == 0, rng));
    }
    SyncBatch batch = make_sync_batch(run_.train, run_.face, pairs);
    if (lips_) batch.lips = lip_shape_targets(run_.train, pairs);
    return batch;
  }
  std::vector<double> step(const SyncBatch& b) override {
    const Compute& compute = run_.compute;
    if (!net_->is_training()) net_->train();  // the evaluation left it in eval mode
    at::Tensor sync_loss, lip_loss, loss;
    {
      AutocastScope autocast(compute);
      const at::Tensor mouths = net_->embed_mouths(compute.input(b.mouths));
      const at::Tensor score = net_->merge(mouths, net_->embed_audio(compute.input(b.audio)));
      const at::Tensor label = compute.input(b.label).view({-1, 1, 1, 1}).expand(score.sizes());
      loss = sync_loss = at::mse_loss(score.to(at::kFloat), label);
      if (lips_) {
        const at::Tensor predicted = lip_head_->forward(mouths.mean({2, 3})).to(at::kFloat);
        lip_loss = lip_shape_loss(predicted, compute.input(b.lips));
        loss = sync_loss + o_.lip_loss * lip_loss;
      }
    }
    adam_.zero_grad();
    lip_adam_.zero_grad();
    scaler_.scale(loss).backward();
    run_.dist.all_reduce_gradients(*net_);
    if (lips_) run_.dist.all_reduce_gradients(*lip_head_);
    scaler_.step(adam_);
    if (lips_) scaler_.step(lip_adam_);
    scaler_.update();
    std::vector<double> values{sync_loss.item<double>()};
    if (lips_) values.push_back(lip_loss.item<double>());
    return values;
  }
  std::vector<double> evaluate(int64_t, const std::function<SyncBatch(int64_t)>&, int64_t) override {
    const SyncEvaluation e = evaluator_->run(net_, run_.compute, o_.batch_size, o_.workers, run_.dist);
    return {e.accuracy, static_cast<double>(e.pairs), e.mean_abs_offset, e.offset_zero_fraction,
            static_cast<double>(e.offset_clips)};
  }
  // The published name of the trained network, without the optimizer.
  void finish(const CheckpointMeta& meta, RankLog& log) override {
    const std::string name = "syncnet_" + std::to_string(o_.mouth_region_size) + "mouth.pth";
    save_sync_checkpoint(o_.result_path / name, net_, nullptr, meta, o_.lr);
    log.write({{"event", "done"}, {"file", name}, {"epoch", meta.epoch}});
  }

 private:
  // Training only: the lip shapes of the 5 frames from the pooled mouth embedding.
  LipHeadState lip_state() { return lips_ ? LipHeadState{lip_head_.get(), &lip_adam_} : LipHeadState{}; }

  const SyncTrainOptions& o_;
  const RunSetup& run_;
  bool lips_;
  SyncNet net_;
  torch::optim::Adam adam_;
  torch::nn::Linear lip_head_;
  torch::optim::Adam lip_adam_;
  GradScaler scaler_;
  StageDescription description_;
  std::optional<SyncEvaluator> evaluator_;
  uint64_t seed_ = 0;
};

}  // namespace

std::vector<EpochFigures> train_sync(const SyncTrainOptions& o) {
  if (o.epochs < 1) throw Error("--epochs", "must be at least 1");
  if (o.checkpoint < 1) throw Error("--checkpoint", "must be at least 1");
  if (o.max_offset < 1) throw Error("--max_offset", "must be at least 1");
  if (o.lip_loss < 0) throw Error("--lip_loss", "must be 0 or more");
  if (o.decay < 0 || o.decay > o.epochs) throw Error("--decay", "must be between 0 and --epochs");
  RunSetup run = setup_run(o, 1, "sync");
  SyncStage stage(o, run);
  Schedule schedule;
  schedule.last_epoch = o.epochs;
  schedule.non_decay = o.epochs - o.decay;
  schedule.decay = o.decay;
  schedule.checkpoint_every = o.checkpoint;
  schedule.checkpoint_last = true;
  return run_stage(stage, o, run, schedule, resume_checkpoint(o, "syncnet_epoch_"));
}

}  // namespace dinet
