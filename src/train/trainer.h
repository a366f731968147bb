// The training skeleton every stage runs in (sync, frame, clip, and finetune through frame
// and clip). A stage supplies its networks, its batches, its step and its evaluation
// (TrainingStage); run_stage owns the rest, once for all of them: resume, the learning-rate
// schedule, the epoch loop, checkpoints, train_log.jsonl, the progress bar and epoch line,
// the data-parallel set-up, a time limit and interrupts.
//
// An epoch figure is declared once (EpochFigure) and reaches the log, the epoch line and
// the results from that declaration.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dinet/error.h"
#include "dinet/interrupt.h"
#include "dinet/train.h"
#include "train/epoch_steps.h"
#include "train/run_files.h"
#include "train/run_setup.h"
#include "train/train_checkpoints.h"

namespace dinet::train {

// What a stage is called and what it reports.
struct StageDescription {
  std::string name;               // "frame": the log's trainer, messages, dinet_meta's trainer
  std::string checkpoint_prefix;  // "netG_model_epoch_": <prefix><epoch>.pth
  std::string unit = "samples";   // what the progress bar and samples/s count
  std::vector<EpochFigure> losses;      // per step, in the order step() returns them
  std::vector<EpochFigure> evaluation;  // per epoch, in the order evaluate() returns them
};

// When the stage's epochs run and are saved.
struct Schedule {
  int64_t first_epoch = 1;  // without --resume
  int64_t last_epoch = 1;
  int64_t non_decay = 0, decay = 0;  // lr_factor's: the rate falls over the last `decay` epochs
  int64_t checkpoint_every = 1;      // <prefix>N.pth when N % checkpoint_every == 0
  bool checkpoint_last = false;      // and after the last epoch
};

// The published generator trainers' schedule (frame and clip options share these names):
// epochs start_epoch..end_epoch (0: non_decay + decay), the rate falling over the last `decay`,
// a checkpoint every `checkpoint` epochs. Throws dinet::Error on a bad period or epoch count.
template <class GeneratorOptions>
Schedule generator_schedule(const GeneratorOptions& o) {
  if (o.checkpoint < 1) throw Error("--checkpoint", "must be at least 1");
  if (o.non_decay < 0 || o.decay < 0) throw Error("--non_decay/--decay", "must not be negative");
  Schedule schedule;
  schedule.first_epoch = o.start_epoch;
  schedule.last_epoch = o.end_epoch > 0 ? o.end_epoch : o.non_decay + o.decay;
  schedule.non_decay = o.non_decay;
  schedule.decay = o.decay;
  schedule.checkpoint_every = o.checkpoint;
  return schedule;
}

template <class Batch>
class TrainingStage {
 public:
  virtual ~TrainingStage() = default;
  virtual const StageDescription& description() const = 0;
  // The networks that learn: data parallel, every rank starts from rank 0's weights and their
  // BatchNorm layers meet across ranks.
  virtual std::vector<torch::nn::Module*> trained_networks() = 0;
  // --resume: networks, optimizers and loss scale from one of the stage's checkpoints.
  virtual CheckpointMeta load_checkpoint(const std::filesystem::path& file) = 0;
  virtual void save_checkpoint(const std::filesystem::path& file, const CheckpointMeta& meta) = 0;
  // Once the starting point is known (seed, resumed or not), before the first epoch.
  virtual void start(const CheckpointMeta& meta, bool resumed) {}
  // Fields the log's start record adds to the run's.
  virtual nlohmann::json start_record() const { return nlohmann::json::object(); }
  // Sets the optimizers' rates to their base rates times `factor`; returns the fields every
  // step record of the epoch carries ({"lr_g": ...}).
  virtual nlohmann::json set_learning_rate(double factor) = 0;
  // The batch of the epoch plan's samples [first, first + count) (a plan lists a video per
  // sample: train/samples.h's epoch_plan).
  virtual Batch load_batch(std::span<const int32_t> plan, int64_t first, int64_t count, int64_t epoch) = 0;
  // One training step; the losses in the order of description().losses.
  virtual std::vector<double> step(const Batch& batch) = 0;
  // After the epoch's steps, with the weights as they are now: the figures of
  // description().evaluation (the same on every rank). `epoch_batch(i)` loads the epoch's
  // i-th batch again (i < steps), for statistics; rank 0 may also write pictures.
  virtual std::vector<double> evaluate(int64_t epoch, const std::function<Batch(int64_t)>& epoch_batch,
                                       int64_t steps) = 0;
  // After the last epoch, on rank 0 (the sync stage's final file).
  virtual void finish(const CheckpointMeta& meta, RankLog& log) {}
};

// A result folder that holds another run's log or checkpoints (of this stage's `prefix`) is
// refused unless --resume continues that run or --force starts over (its train_log.jsonl and
// those checkpoints are then removed first). Rank 0 decides; throws dinet::Error naming the
// folder and both options.
void claim_result_path(const TrainRunOptions& options, const std::string& prefix, bool main);

// Removes the run's `<prefix>N.pth` files but the newest `keep` (keep <= 0: none removed).
void remove_older_checkpoints(const std::filesystem::path& dir, const std::string& prefix, int keep);

// The checkpoint --resume continues from, when --resume is given and one exists.
std::optional<FoundCheckpoint> resume_checkpoint(const TrainRunOptions& options, const std::string& prefix);

// ---- the pieces of run_stage that do not depend on the batch type (trainer.cpp) -----------
// Resumes from `found` (or says why not) and returns where the run starts.
CheckpointMeta starting_point(const std::function<CheckpointMeta(const std::filesystem::path&)>& load,
                              const std::optional<FoundCheckpoint>& found, const TrainRunOptions& o,
                              const RunSetup& run, const std::string& name, int64_t first_epoch);
// The epoch's record in train_log.jsonl and its line on stderr.
void report_epoch(const StageDescription& stage, const EpochFigures& figures, bool checkpoint, RankLog& log);
// The figures the skeleton adds to every stage's: samples/s, the share of the time spent
// waiting for data, the seconds of the epoch's steps.
std::vector<EpochFigure> throughput_figures(const std::string& unit);
// Adds `values` under the keys of `declared` (a stage returning the wrong count is a bug).
void append_figures(EpochFigures& figures, const std::vector<EpochFigure>& declared, const std::vector<double>& values);

template <class Batch>
std::vector<EpochFigures> run_stage(TrainingStage<Batch>& stage, const TrainRunOptions& o, RunSetup& run,
                                    const Schedule& schedule, const std::optional<FoundCheckpoint>& resume_from) {
  const StageDescription& d = stage.description();
  const InterruptScope interrupts("dinet train " + d.name);
  claim_result_path(o, d.checkpoint_prefix, run.dist.is_main());
  CheckpointMeta meta = starting_point([&](const std::filesystem::path& f) { return stage.load_checkpoint(f); },
                                       resume_from, o, run, d.name, schedule.first_epoch);
  stage.start(meta, resume_from.has_value());
  check_same_start(run.dist, meta.epoch);
  for (torch::nn::Module* net : stage.trained_networks()) share_network(run.dist, *net);
  const bool main = run.dist.is_main();
  const uint64_t seed = static_cast<uint64_t>(meta.seed);
  const auto started = std::chrono::steady_clock::now();

  RankLog log(run.dist, o.result_path / "train_log.jsonl");
  nlohmann::json start = run_record(o, run, d.name);
  start["first_epoch"] = meta.epoch + 1;
  start["last_epoch"] = schedule.last_epoch;
  start.update(stage.start_record());
  log.write(start);

  std::vector<EpochFigures> results;
  try {
  for (int64_t epoch = meta.epoch + 1; epoch <= schedule.last_epoch; ++epoch) {
    const nlohmann::json step_fields =
        stage.set_learning_rate(lr_factor(meta.scheduler_steps, schedule.non_decay, schedule.decay));
    const std::vector<int32_t> plan = epoch_plan(run.train.videos.size(), o.augment_num, seed, epoch);
    const EpochShard shard = epoch_shard(plan.size(), o.batch_size, run.dist);  // drop_last
    const std::function<Batch(int64_t)> load = [&](int64_t i) {
      return stage.load_batch(plan, shard.first(i), o.batch_size, epoch);
    };
    Prefetcher<Batch> loader(shard.steps, o.workers, o.prefetch, load);
    const EpochContext context{run.dist, log, epoch, schedule.last_epoch, o.show_progress, d.unit};
    const EpochSteps done = run_epoch_steps(context, shard, loader, d.losses, step_fields,
                                            [&](const Batch& batch) { return stage.step(batch); });
    ++meta.scheduler_steps;  // the published update_learning_rate after every epoch
    meta.epoch = epoch;

    EpochFigures figures{epoch, {}};
    append_figures(figures, d.losses, done.mean);
    append_figures(figures, d.evaluation, stage.evaluate(epoch, load, shard.steps));
    const double samples_per_s = shard.steps * shard.global_batch() / std::max(done.seconds, 1e-9);
    append_figures(figures, throughput_figures(d.unit), {samples_per_s, done.wait_fraction, done.seconds});
    results.push_back(figures);

    // With a time limit, every rank stops after the same epoch: the first to run out decides.
    const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / 60;
    const bool out_of_time =
        o.max_minutes > 0 && mean_over_ranks(run.dist, {minutes >= o.max_minutes ? 1.0 : 0.0})[0] > 0;
    const bool last = epoch == schedule.last_epoch || out_of_time;
    const bool save = epoch % schedule.checkpoint_every == 0 || (last && (schedule.checkpoint_last || out_of_time));
    const std::filesystem::path file = o.result_path / (d.checkpoint_prefix + std::to_string(epoch) + ".pth");
    if (main) {
      if (save) {
        stage.save_checkpoint(file, meta);
        remove_older_checkpoints(o.result_path, d.checkpoint_prefix, o.keep_checkpoints);
      }
      report_epoch(d, figures, save, log);
      if (o.after_epoch) o.after_epoch(figures, save ? file : std::filesystem::path());
    }
    if (out_of_time) {
      if (main)
        std::fprintf(stderr, "dinet train %s: stopping after epoch %lld: the %.4g-minute limit is reached\n",
                     d.name.c_str(), static_cast<long long>(epoch), o.max_minutes);
      break;
    }
  }
  } catch (const Interrupted&) {
    log.write({{"event", "interrupted"}, {"epoch", meta.epoch + 1}});
    throw;
  }
  if (main) stage.finish(meta, log);
  return results;
}

}  // namespace dinet::train
