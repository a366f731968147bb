// The start every trainer shares: options checked, the process's place in a data-parallel
// job (docs/distributed.md), threads set, the training json read and split, the result
// folder ready. A trainer then builds its networks and loops.
//
// A trainer's distributed wiring, in order (train_frame and train_sync do exactly this):
//   RunSetup run = setup_run(...);               // run.dist: a single process without a launcher
//   ... build the networks, load or resume ...
//   check_same_start(run.dist, meta.epoch);      // every rank resumed the same checkpoint
//   share_network(run.dist, *net);               // synchronized BatchNorm + rank 0's weights
//   RankLog log(run.dist, file);                 // rank 0 writes, the others do nothing
//   per epoch: const EpochShard shard = epoch_shard(plan.size(), o.batch_size, run.dist);
//              batch i = plan[shard.first(i) .. shard.first(i) + o.batch_size)
//   per step:  backward; run.dist.all_reduce_gradients(*net); optimizer step;
//              losses = mean_over_ranks(run.dist, {...}) for the log
//   evaluation split by batch (b % world == rank) and summed with dist.all_reduce_sum;
//   checkpoints, pictures, progress and messages only when run.dist.is_main().
#pragma once

#include <string>

#include <torch/nn/module.h>

#include <optional>
#include <vector>

#include "dinet/crop.h"
#include "dinet/distributed.h"
#include "dinet/train.h"
#include "train/compute.h"
#include "train/run_files.h"
#include "train/training_set.h"

namespace dinet::train {

struct RunSetup {
  TrainingSet train;    // what the epochs draw from
  TrainingSet heldout;  // evaluation data; empty when options.holdout is 0
  FaceSize face;
  Compute compute;
  Distributed dist;  // from torchrun's / dinet launch's variables; one process without them
};

// `min_clips`: clips a training video needs (6 for the frame recipe); shorter videos are
// dropped with a note on stderr. Joins the data-parallel job the environment describes
// (waits for every rank); --batch_size is per process, and --threads 0 shares the machine's
// cores between its processes. Throws dinet::Error for bad options or unusable data.
RunSetup setup_run(const TrainRunOptions& options, size_t min_clips, const std::string& trainer);

// The record that opens a run in train_log.jsonl: trainer, data, sizes, device, threads.
nlohmann::json run_record(const TrainRunOptions& options, const RunSetup& setup, const std::string& trainer);

// This rank's part of an epoch of `plan_size` samples (the plan is the same on every rank).
// The plan is cut into global steps of batch x world samples, the last partial one dropped
// (DataLoader's drop_last); at step i, rank r takes the `batch` samples from
// (i x world + r) x batch on. So no two ranks share a sample, and at every step the ranks
// together take exactly what one process with batch batch x world takes.
struct EpochShard {
  int64_t steps = 0, batch = 0;
  int rank = 0, world = 1;
  int64_t first(int64_t step) const { return (step * world + rank) * batch; }
  int64_t global_batch() const { return batch * world; }
};
EpochShard epoch_shard(size_t plan_size, int64_t batch, const Distributed& dist);

// For a network that trains, once it is built and its weights loaded or resumed: its
// BatchNorm layers normalise over the batch of every rank, and every rank starts from rank
// 0's weights and buffers.
void share_network(const Distributed& dist, torch::nn::Module& net);

// Stops the run when the ranks would start at different epochs (each reads the newest
// checkpoint of its own --result_path: on several machines it must be shared).
void check_same_start(const Distributed& dist, int64_t last_epoch_done);

// The means over every rank, in one collective.
std::vector<double> mean_over_ranks(const Distributed& dist, const std::vector<double>& values);

// train_log.jsonl, written by rank 0 only.
class RankLog {
 public:
  RankLog(const Distributed& dist, const std::filesystem::path& file);
  void write(const nlohmann::json& record);

 private:
  std::optional<JsonlLog> log_;
};

}  // namespace dinet::train
