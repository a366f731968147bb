#include "train/run_setup.h"

#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <ATen/ops/tensor.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/runtime.h"

namespace dinet::train {

RunSetup setup_run(const TrainRunOptions& o, size_t min_clips, const std::string& trainer) {
  if (o.train_data.empty()) throw Error("--train_data", "required: the training_json.json of `dinet prepare`");
  if (o.result_path.empty()) throw Error("--result_path", "required: where checkpoints and logs go");
  if (o.batch_size < 1) throw Error("--batch_size", "must be at least 1");
  if (o.augment_num < 1) throw Error("--augment_num", "must be at least 1");
  if (o.holdout < 0 || o.holdout >= 1) throw Error("--holdout", "must be in [0, 1)");
  RunSetup s;
  s.face = face_size(static_cast<int>(o.mouth_region_size));
  // The networks halve the face up to 5 times; the discriminator's 4x4 convolutions need
  // the face of m = 64 (104x80) at least.
  if (o.mouth_region_size % 32 != 0 || o.mouth_region_size < 64)
    throw Error("--mouth_region_size " + std::to_string(o.mouth_region_size),
                "must be a multiple of 32, at least 64 (published: 64, 128, 256)");
  s.compute = resolve_compute(o.device, o.precision, o.channels_last);
  s.dist = Distributed::from_environment(s.compute.device.is_cuda());
  if (s.dist.active() && s.compute.device.is_cuda()) s.compute.device = s.dist.device();
  // The processes on one machine share its cores.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = set_threads(o.threads > 0 ? o.threads : std::max(1, cores / s.dist.local_world_size()));
  // The same seed on every rank: networks start alike (broadcast makes sure) and every rank
  // draws the same epoch plans.
  torch::manual_seed(static_cast<uint64_t>(o.seed));

  TrainingSet all = read_training_set(o.train_data);
  SplitSet split = split_heldout(all, o.holdout);
  for (TrainingSet* set : {&split.train, &split.heldout})
    for (const std::string& name : drop_short_videos(*set, min_clips))
      std::fprintf(stderr, "dinet train %s: skipping video '%s' (%s): fewer than %zu clips\n", trainer.c_str(),
                   name.c_str(), set == &split.train ? "training" : "held out", min_clips);
  if (split.train.videos.empty())
    throw Error(o.train_data.string(), "no video with at least " + std::to_string(min_clips) + " clips to train on");
  const int world = s.dist.world_size();
  if (static_cast<int64_t>(split.train.videos.size()) * o.augment_num < o.batch_size * world)
    throw Error("--batch_size " + std::to_string(o.batch_size) +
                    (world > 1 ? " x " + std::to_string(world) + " processes" : std::string()),
                "larger than an epoch (" + std::to_string(split.train.videos.size()) + " videos x augment_num " +
                    std::to_string(o.augment_num) + ")");
  s.train = std::move(split.train);
  s.heldout = std::move(split.heldout);
  std::filesystem::create_directories(o.result_path);
  if (s.dist.is_main()) remove_dead_temporaries(o.result_path);
  if (s.dist.active() && s.dist.is_main())
    std::fprintf(stderr,
                 "dinet train %s: %d processes (%s): batch %lld per process, %lld in all; %d threads per process\n",
                 trainer.c_str(), world, s.dist.backend().c_str(), static_cast<long long>(o.batch_size),
                 static_cast<long long>(o.batch_size * world), threads);
  return s;
}

nlohmann::json run_record(const TrainRunOptions& o, const RunSetup& s, const std::string& trainer) {
  return {{"event", "start"},
          {"trainer", trainer},
          {"world_size", s.dist.world_size()},
          {"train_data", o.train_data.string()},
          {"videos", s.train.videos.size()},
          {"clips", s.train.clip_count()},
          {"heldout_videos", s.heldout.videos.size()},
          {"heldout_clips", s.heldout.clip_count()},
          {"audio_feature", s.train.audio.name},
          {"audio_channel", s.train.audio.channels},
          {"mouth_region_size", o.mouth_region_size},
          {"backend", s.dist.backend()},
          {"batch_size", o.batch_size},  // per process
          {"global_batch_size", o.batch_size * s.dist.world_size()},
          {"augment_num", o.augment_num},
          {"seed", o.seed},
          {"device", s.compute.device.str()},
          {"precision", s.compute.precision},
          {"channels_last", s.compute.channels_last},
          {"threads", at::get_num_threads()},  // per process
          {"workers", o.workers},
          {"resume", o.resume}};
}

EpochShard epoch_shard(size_t plan_size, int64_t batch, const Distributed& dist) {
  EpochShard s;
  s.batch = batch;
  s.rank = dist.rank();
  s.world = dist.world_size();
  s.steps = static_cast<int64_t>(plan_size) / s.global_batch();
  return s;
}

void share_network(const Distributed& dist, torch::nn::Module& net) {
  dist.synchronize_batch_norm(net);
  dist.broadcast_parameters(net);
}

void check_same_start(const Distributed& dist, int64_t last_epoch_done) {
  if (!dist.active()) return;
  const double e = static_cast<double>(last_epoch_done);
  const std::vector<double> m = mean_over_ranks(dist, {e, e * e});
  // Equal everywhere exactly when the mean is this rank's and the mean square its square.
  if (m[0] != e || m[1] != e * e)
    throw Error("distributed: " + dist.describe(),
                "the processes would start at different epochs (this one after epoch " +
                    std::to_string(last_epoch_done) +
                    "): with --resume every process reads the newest checkpoint in its own --result_path, which "
                    "must be the same folder (shared between machines) or hold the same files");
}

std::vector<double> mean_over_ranks(const Distributed& dist, const std::vector<double>& values) {
  if (!dist.active() || values.empty()) return values;
  const at::Tensor mean =
      dist.all_reduce_mean(at::tensor(values, at::TensorOptions().dtype(at::kDouble))).contiguous();
  return {mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel()};
}

RankLog::RankLog(const Distributed& dist, const std::filesystem::path& file) {
  if (dist.is_main()) log_.emplace(file);
}

void RankLog::write(const nlohmann::json& record) {
  if (log_) log_->write(record);
}

}  // namespace dinet::train
