#include "train/run_setup.h"

#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <cstdio>

#include "dinet/error.h"
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
  set_threads(o.threads);
  torch::manual_seed(static_cast<uint64_t>(o.seed));

  TrainingSet all = read_training_set(o.train_data);
  SplitSet split = split_heldout(all, o.holdout);
  for (TrainingSet* set : {&split.train, &split.heldout})
    for (const std::string& name : drop_short_videos(*set, min_clips))
      std::fprintf(stderr, "dinet train %s: skipping video '%s' (%s): fewer than %zu clips\n", trainer.c_str(),
                   name.c_str(), set == &split.train ? "training" : "held out", min_clips);
  if (split.train.videos.empty())
    throw Error(o.train_data.string(), "no video with at least " + std::to_string(min_clips) + " clips to train on");
  if (static_cast<int64_t>(split.train.videos.size()) * o.augment_num < o.batch_size)
    throw Error("--batch_size " + std::to_string(o.batch_size),
                "larger than an epoch (" + std::to_string(split.train.videos.size()) + " videos x augment_num " +
                    std::to_string(o.augment_num) + ")");
  s.train = std::move(split.train);
  s.heldout = std::move(split.heldout);
  std::filesystem::create_directories(o.result_path);
  remove_dead_temporaries(o.result_path);
  return s;
}

nlohmann::json run_record(const TrainRunOptions& o, const RunSetup& s, const std::string& trainer) {
  return {{"event", "start"},
          {"trainer", trainer},
          {"train_data", o.train_data.string()},
          {"videos", s.train.videos.size()},
          {"clips", s.train.clip_count()},
          {"heldout_videos", s.heldout.videos.size()},
          {"heldout_clips", s.heldout.clip_count()},
          {"audio_feature", s.train.audio.name},
          {"audio_channel", s.train.audio.channels},
          {"mouth_region_size", o.mouth_region_size},
          {"batch_size", o.batch_size},
          {"augment_num", o.augment_num},
          {"seed", o.seed},
          {"device", s.compute.device.str()},
          {"precision", s.compute.precision},
          {"channels_last", s.compute.channels_last},
          {"threads", at::get_num_threads()},
          {"workers", o.workers},
          {"resume", o.resume}};
}

}  // namespace dinet::train
