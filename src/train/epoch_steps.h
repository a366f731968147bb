// The loop over one epoch's training steps that every trainer runs: batches from the
// prefetching loader, the trainer's step, its losses averaged over the ranks, one `step`
// record per step in train_log.jsonl, and the progress bar with the time spent waiting for
// data (which shows whether the network ever waits on loading); and after it, the
// generator's BatchNorm statistics re-estimated for the evaluation and checkpoint.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "dinet/interrupt.h"
#include "dinet/progress.h"
#include "train/batchnorm_statistics.h"
#include "train/prefetcher.h"
#include "train/run_setup.h"

namespace dinet::train {

// A figure of an epoch, declared once: its value goes to train_log.jsonl under `key` and to
// the progress bar or epoch line through `shown`, a printf format of one double ("dI %.4f";
// empty: the log only), after multiplying it by `scale` (100 for a percentage).
struct EpochFigure {
  std::string key, shown;
  double scale = 1;
  std::string format(double value) const;
};

struct EpochContext {
  const Distributed& dist;
  RankLog& log;
  int64_t epoch = 0, last_epoch = 0;
  bool show_progress = false;  // honoured on rank 0 only
  std::string unit;            // what the progress bar counts: "samples", "clips"
};

struct EpochSteps {
  std::vector<double> mean;  // per loss: the mean over the epoch's steps and the ranks
  double seconds = 0;        // wall time of the steps
  double wait_fraction = 0;  // of it, blocked on the loader
};

// `step(batch)` trains on one batch and returns its losses in the order of `names`;
// `step_fields` are added to every step record (the learning rate, say). Between steps a
// signal (dinet/interrupt.h) stops the epoch by throwing dinet::Interrupted.
template <class Batch, class Step>
EpochSteps run_epoch_steps(const EpochContext& c, const EpochShard& shard, Prefetcher<Batch>& loader,
                           const std::vector<EpochFigure>& names, const nlohmann::json& step_fields, Step&& step) {
  std::optional<Progress> progress;
  if (c.show_progress && c.dist.is_main())
    progress.emplace("epoch " + std::to_string(c.epoch) + "/" + std::to_string(c.last_epoch),
                     shard.steps * shard.global_batch(), c.unit);
  EpochSteps out;
  out.mean.assign(names.size(), 0.0);
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  for (int64_t i = 0; i < shard.steps; ++i) {
    const double waited_before = loader.wait_seconds();
    const Batch batch = *loader.next();
    const double wait = loader.wait_seconds() - waited_before;
    const std::vector<double> losses = mean_over_ranks(c.dist, step(batch));
    nlohmann::json record = {{"event", "step"}, {"epoch", c.epoch}, {"step", i}, {"wait_ms", wait * 1e3}};
    if (step_fields.is_object()) record.update(step_fields);
    std::string fields;
    for (size_t k = 0; k < names.size(); ++k) {
      out.mean[k] += losses[k] / static_cast<double>(shard.steps);
      record[names[k].key] = losses[k];
      fields += names[k].format(losses[k]) + " ";
    }
    c.log.write(record);
    if (progress) {
      char waited[64];
      std::snprintf(waited, sizeof waited, "waited on data %.0f%%",
                    100.0 * loader.wait_seconds() / std::max(elapsed(), 1e-9));
      progress->set_fields(fields + waited);
      progress->advance(shard.global_batch());
    }
    throw_if_interrupted();
  }
  out.seconds = elapsed();
  if (progress) progress->finish();
  out.wait_fraction = loader.wait_seconds() / std::max(out.seconds, 1e-9);
  return out;
}

// Before an epoch's evaluation and checkpoint: the generator's BatchNorm statistics
// re-estimated on the first `batches` of the epoch's batches, loaded again by `load(i)` and
// run by `step.forward_for_statistics`. Every rank takes the same number of its own batches:
// the synchronized BatchNorm meets in each.
template <class Step, class Load>
void estimate_generator_statistics(Step& step, int64_t batches, int workers, int prefetch, const Load& load) {
  if (batches < 1) return;
  Prefetcher<std::invoke_result_t<const Load&, int64_t>> loader(batches, workers, prefetch, load);
  estimate_batchnorm_statistics(*step.generator(), batches,
                                [&](int64_t) { step.forward_for_statistics(*loader.next()); });
}

}  // namespace dinet::train
