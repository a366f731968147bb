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
#include "train/epoch_steps.h"
#include "train/frame_step.h"
#include "train/lip_shapes.h"
#include "train/optimizer_state.h"
#include "train/sync_eval.h"
#include "train/train_checkpoints.h"

namespace dinet {
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

}  // namespace

std::vector<SyncEpochResult> train_sync(const SyncTrainOptions& o) {
  if (o.epochs < 1) throw Error("--epochs", "must be at least 1");
  if (o.checkpoint < 1) throw Error("--checkpoint", "must be at least 1");
  if (o.max_offset < 1) throw Error("--max_offset", "must be at least 1");
  if (o.lip_loss < 0) throw Error("--lip_loss", "must be 0 or more");
  if (o.decay < 0 || o.decay > o.epochs) throw Error("--decay", "must be between 0 and --epochs");
  RunSetup run = setup_run(o, 1, "sync");
  const bool main = run.dist.is_main();
  const bool lips = o.lip_loss > 0 && attach_lips(run.train, main);
  const TrainingSet& train = run.train;
  if (run.heldout.videos.empty() && main)
    std::fprintf(stderr, "dinet train sync: --holdout 0: accuracy and offsets are measured on training data\n");
  const TrainingSet& eval_set = run.heldout.videos.empty() ? run.train : run.heldout;

  SyncNet net(15, train.audio.channels, 128);
  run.compute.place(*net);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(o.lr));
  // Training only: the lip shapes of the 5 frames from the pooled mouth embedding.
  torch::nn::Linear lip_head(128, 5 * kLipMeasures);
  run.compute.place(*lip_head);
  torch::optim::Adam lip_adam(lip_head->parameters(), torch::optim::AdamOptions(o.lr));
  const LipHeadState lip_state = lips ? LipHeadState{lip_head.get(), &lip_adam} : LipHeadState{};
  GradScaler scaler(run.compute.precision == "fp16");

  CheckpointMeta meta{"sync", o.mouth_region_size, train.audio, 0, 0, o.seed};
  bool resumed = false;
  if (o.resume) {
    if (const auto found = newest_checkpoint(o.result_path, "syncnet_epoch_")) {
      meta = load_sync_checkpoint(found->file, net, adam, o.mouth_region_size, train.audio, lip_state);
      resumed = true;
      if (meta.seed < 0) meta.seed = o.seed;
      if (meta.grad_scale > 0) scaler.restore(meta.grad_scale, meta.grad_growth_tracker);
      if (main)
        std::fprintf(stderr, "dinet train sync: resuming from %s (epoch %lld done)\n", found->file.c_str(),
                   static_cast<long long>(meta.epoch));
    } else if (main) {
      std::fprintf(stderr, "dinet train sync: no checkpoint in %s to resume from; starting\n",
                   o.result_path.c_str());
    }
  }
  const uint64_t seed = static_cast<uint64_t>(meta.seed);
  if (!resumed) init_for_training(net, train, run.face, run.compute, seed);
  check_same_start(run.dist, meta.epoch);
  share_network(run.dist, *net);
  share_network(run.dist, *lip_head);
  const SyncEvaluator evaluator(eval_set, run.face, o.max_offset, o.eval_clips, seed);
  RankLog log(run.dist, o.result_path / "train_log.jsonl");
  nlohmann::json start = run_record(o, run, "sync");
  start["first_epoch"] = meta.epoch + 1;
  start["last_epoch"] = o.epochs;
  log.write(start);

  std::vector<SyncEpochResult> results;
  for (int64_t epoch = meta.epoch + 1; epoch <= o.epochs; ++epoch) {
    const double lr = o.lr * lr_factor(epoch - 1, o.epochs - o.decay, o.decay);
    set_learning_rate(adam, lr);
    set_learning_rate(lip_adam, lr);
    const std::vector<int32_t> plan = epoch_plan(train.videos.size(), o.augment_num, seed, epoch);
    const EpochShard shard = epoch_shard(plan.size(), o.batch_size, run.dist);  // drop_last
    Prefetcher<SyncBatch> loader(shard.steps, o.workers, o.prefetch, [&](int64_t i) {
      std::vector<SyncPair> pairs;
      for (int64_t k = shard.first(i); k < shard.first(i) + o.batch_size; ++k) {
        // Samples 2j and 2j+1: the same mouths with their own and with other audio.
        const int64_t anchor = k - k % 2;
        auto rng = sample_rng(seed, epoch, anchor);
        pairs.push_back(draw_matched_sync_pair(train, plan[anchor], k % 2 == 0, rng));
      }
      SyncBatch batch = make_sync_batch(train, run.face, pairs);
      if (lips) batch.lips = lip_shape_targets(train, pairs);
      return batch;
    });
    const EpochContext context{run.dist, log, epoch, o.epochs, o.show_progress, "samples"};
    net->train();
    std::vector<LossName> columns{{"loss", "loss"}};
    if (lips) columns.push_back({"lip_loss", "lip"});
    const EpochSteps done = run_epoch_steps(context, shard, loader, columns, {{"lr", lr}}, [&](const SyncBatch& b) {
      at::Tensor sync_loss, lip_loss, loss;
      {
        AutocastScope autocast(run.compute);
        const at::Tensor mouths = net->embed_mouths(run.compute.input(b.mouths));
        const at::Tensor score = net->merge(mouths, net->embed_audio(run.compute.input(b.audio)));
        const at::Tensor label = run.compute.input(b.label).view({-1, 1, 1, 1}).expand(score.sizes());
        loss = sync_loss = at::mse_loss(score.to(at::kFloat), label);
        if (lips) {
          const at::Tensor predicted = lip_head->forward(mouths.mean({2, 3})).to(at::kFloat);
          lip_loss = lip_shape_loss(predicted, run.compute.input(b.lips));
          loss = sync_loss + o.lip_loss * lip_loss;
        }
      }
      adam.zero_grad();
      lip_adam.zero_grad();
      scaler.scale(loss).backward();
      run.dist.all_reduce_gradients(*net);
      if (lips) run.dist.all_reduce_gradients(*lip_head);
      scaler.step(adam);
      if (lips) scaler.step(lip_adam);
      scaler.update();
      std::vector<double> values{sync_loss.item<double>()};
      if (lips) values.push_back(lip_loss.item<double>());
      return values;
    });
    SyncEpochResult r{epoch};
    r.loss = done.mean[0];
    r.lip_loss = lips ? done.mean[1] : 0.0;
    r.wait_fraction = done.wait_fraction;
    meta.epoch = epoch;

    const SyncEvaluation e = evaluator.run(net, run.compute, o.batch_size, o.workers, run.dist);
    r.heldout_accuracy = e.accuracy;
    r.mean_abs_offset = e.mean_abs_offset;
    r.offset_zero_fraction = e.offset_zero_fraction;
    r.offset_clips = e.offset_clips;
    results.push_back(r);
    if (!main) continue;  // the rest writes files
    if (epoch % o.checkpoint == 0 || epoch == o.epochs) {
      if (scaler.enabled()) {
        meta.grad_scale = scaler.scale_value();
        meta.grad_growth_tracker = scaler.growth_tracker();
      }
      save_sync_checkpoint(o.result_path / ("syncnet_epoch_" + std::to_string(epoch) + ".pth"), net, &adam, meta,
                           o.lr, lip_state);
    }
    log.write({{"event", "epoch"}, {"epoch", epoch}, {"loss", r.loss}, {"lip_loss", r.lip_loss},
               {"heldout_accuracy", e.accuracy},
               {"heldout_pairs", e.pairs}, {"mean_abs_offset", e.mean_abs_offset},
               {"offset_zero_fraction", e.offset_zero_fraction}, {"offset_clips", e.offset_clips},
               {"samples_per_s", shard.steps * shard.global_batch() / std::max(done.seconds, 1e-9)},
               {"wait_fraction", r.wait_fraction}, {"seconds", done.seconds}});
    char lip[32] = "";
    if (lips) std::snprintf(lip, sizeof lip, " lip %.3f", r.lip_loss);
    std::fprintf(stderr,
                 "epoch %lld: loss %.4f%s | held-out accuracy %.1f%% of %lld pairs | offset scan -%lld..%lld on %lld "
                 "clips: mean |offset| %.2f frames, %.0f%% at 0 | waited on data %.1f%%\n",
                 static_cast<long long>(epoch), r.loss, lip, 100 * e.accuracy, static_cast<long long>(e.pairs),
                 static_cast<long long>(o.max_offset), static_cast<long long>(o.max_offset),
                 static_cast<long long>(e.offset_clips), e.mean_abs_offset, 100 * e.offset_zero_fraction,
                 100 * r.wait_fraction);
  }
  if (!main) return results;
  const std::string final_name = "syncnet_" + std::to_string(o.mouth_region_size) + "mouth.pth";
  save_sync_checkpoint(o.result_path / final_name, net, nullptr, meta, o.lr);
  log.write({{"event", "done"}, {"file", final_name}, {"epoch", meta.epoch}});
  return results;
}

}  // namespace dinet
