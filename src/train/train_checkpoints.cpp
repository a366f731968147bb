#include "train/train_checkpoints.h"

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/torch_file.h"
#include "train/optimizer_state.h"

namespace dinet::train {
namespace fs = std::filesystem;
namespace {

TorchValue meta_value(const CheckpointMeta& m) {
  TorchValue v = TorchValue::dict();
  v.set("trainer", m.trainer);
  v.set("mouth_region_size", m.mouth_region_size);
  v.set("audio_feature", m.audio.name);
  v.set("audio_channel", m.audio.channels);
  v.set("epoch", m.epoch);
  v.set("scheduler_steps", m.scheduler_steps);
  v.set("seed", m.seed);
  v.set("grad_scale", m.grad_scale);
  v.set("grad_growth_tracker", m.grad_growth_tracker);
  return v;
}

// Our metadata, or what a published file implies. Checks it against the run.
CheckpointMeta read_meta(const TorchValue& file, const fs::path& path, const std::string& trainer,
                         int64_t mouth_region_size, const AudioFeatureSpec& audio) {
  CheckpointMeta m;
  const TorchValue* v = file.find("dinet_meta");
  if (!v) {
    m.trainer = trainer;
    m.mouth_region_size = mouth_region_size;
    m.audio = audio;
    m.epoch = file.find("epoch") ? file.at("epoch").as_int() - 1 : 0;
    m.scheduler_steps = m.epoch;
    m.seed = -1;  // unknown: the run's own seed is used
    return m;
  }
  m.trainer = v->at("trainer").as_string();
  m.mouth_region_size = v->at("mouth_region_size").as_int();
  m.audio = {v->at("audio_feature").as_string(), static_cast<int>(v->at("audio_channel").as_int())};
  m.epoch = v->at("epoch").as_int();
  m.scheduler_steps = v->at("scheduler_steps").as_int();
  m.seed = v->at("seed").as_int();
  m.grad_scale = v->at("grad_scale").as_double();
  m.grad_growth_tracker = v->at("grad_growth_tracker").as_int();
  if (m.trainer != trainer)
    throw Error(path.string(), "a checkpoint of `dinet train " + m.trainer + "`, not of `dinet train " + trainer + "`");
  if (m.mouth_region_size != mouth_region_size)
    throw Error(path.string(), "trained at mouth_region_size " + std::to_string(m.mouth_region_size) +
                                   ", this run uses " + std::to_string(mouth_region_size));
  require_same_feature(m.audio, audio, path.string());
  return m;
}

StateDict weights(const torch::nn::Module& net) { return cpu_contiguous(module_state_dict(net)); }

}  // namespace

void save_frame_checkpoint(const fs::path& file, FrameStep& step, const CheckpointMeta& meta, double lr_g,
                           double lr_dI) {
  TorchValue optimizer = TorchValue::dict();
  optimizer.set("net_g", adam_state_value(step.optimizer_g(), lr_g));
  optimizer.set("net_dI", adam_state_value(step.optimizer_d(), lr_dI));
  TorchValue checkpoint = published_generator_checkpoint(
      meta.epoch + 1, {{"net_g", weights(*step.generator())}, {"net_dI", weights(*step.discriminator())}},
      std::move(optimizer));
  checkpoint.set("dinet_meta", meta_value(meta));
  save_torch_file(file, checkpoint);
}

CheckpointMeta load_frame_checkpoint(const fs::path& file, FrameStep& step, int64_t mouth_region_size,
                                     const AudioFeatureSpec& audio) {
  const TorchValue value = load_torch_file(file);
  const CheckpointMeta meta = read_meta(value, file, "frame", mouth_region_size, audio);
  const TorchValue& nets = value.at("state_dict");
  load_state_dict(*step.generator(), state_dict_from_value(nets.at("net_g"), file.string()), file.string());
  load_state_dict(*step.discriminator(), state_dict_from_value(nets.at("net_dI"), file.string()), file.string());
  if (const TorchValue* optimizer = value.find("optimizer")) {
    load_adam_state(step.optimizer_g(), optimizer->at("net_g"), file.string() + ": optimizer net_g");
    load_adam_state(step.optimizer_d(), optimizer->at("net_dI"), file.string() + ": optimizer net_dI");
  }
  if (meta.grad_scale > 0) step.scaler().restore(meta.grad_scale, meta.grad_growth_tracker);
  return meta;
}

void save_sync_checkpoint(const fs::path& file, SyncNet& net, const torch::optim::Adam* adam,
                          const CheckpointMeta& meta, double lr) {
  TorchValue checkpoint = published_syncnet_checkpoint(weights(*net));
  if (adam) {
    TorchValue optimizer = TorchValue::dict();
    optimizer.set("net", adam_state_value(*adam, lr));
    checkpoint.set("optimizer", std::move(optimizer));
    checkpoint.set("epoch", meta.epoch + 1);
  }
  checkpoint.set("dinet_meta", meta_value(meta));
  save_torch_file(file, checkpoint);
}

CheckpointMeta load_sync_checkpoint(const fs::path& file, SyncNet& net, torch::optim::Adam& adam,
                                    int64_t mouth_region_size, const AudioFeatureSpec& audio) {
  const TorchValue value = load_torch_file(file);
  const CheckpointMeta meta = read_meta(value, file, "sync", mouth_region_size, audio);
  load_state_dict(*net, state_dict_from_value(value.at("state_dict").at("net"), file.string()), file.string());
  if (const TorchValue* optimizer = value.find("optimizer"))
    load_adam_state(adam, optimizer->at("net"), file.string() + ": optimizer net");
  return meta;
}

}  // namespace dinet::train
