#include "train/train_checkpoints.h"

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/torch_file.h"
#include "train/optimizer_state.h"

namespace dinet::train {
namespace fs = std::filesystem;
CheckpointMeta with_loss_scale(CheckpointMeta meta, const GradScaler& scaler) {
  if (scaler.enabled()) {
    meta.grad_scale = scaler.scale_value();
    meta.grad_growth_tracker = scaler.growth_tracker();
  }
  return meta;
}

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

std::optional<CheckpointMeta> read_meta(const TorchValue& file, const std::string& source,
                                        const std::vector<std::string>& trainers, int64_t mouth_region_size,
                                        const AudioFeatureSpec& audio) {
  const TorchValue* v = file.kind() == TorchValue::Kind::dict ? file.find("dinet_meta") : nullptr;
  if (!v) return std::nullopt;
  CheckpointMeta m;
  m.trainer = v->at("trainer").as_string();
  m.mouth_region_size = v->at("mouth_region_size").as_int();
  m.audio = {v->at("audio_feature").as_string(), static_cast<int>(v->at("audio_channel").as_int())};
  m.epoch = v->at("epoch").as_int();
  m.scheduler_steps = v->at("scheduler_steps").as_int();
  m.seed = v->at("seed").as_int();
  m.grad_scale = v->at("grad_scale").as_double();
  m.grad_growth_tracker = v->at("grad_growth_tracker").as_int();
  bool known = false;
  std::string wanted;
  for (const std::string& t : trainers) {
    known = known || t == m.trainer;
    wanted += (wanted.empty() ? "`dinet train " : " or `dinet train ") + t + "`";
  }
  if (!known) throw Error(source, "a checkpoint of `dinet train " + m.trainer + "`, not of " + wanted);
  if (m.mouth_region_size != mouth_region_size)
    throw Error(source, "trained at mouth_region_size " + std::to_string(m.mouth_region_size) +
                            ", this run uses " + std::to_string(mouth_region_size));
  require_same_feature(m.audio, audio, source);
  return m;
}

CheckpointMeta published_meta(const TorchValue& file, const std::string& trainer, int64_t mouth_region_size,
                              const AudioFeatureSpec& audio) {
  CheckpointMeta m;
  m.trainer = trainer;
  m.mouth_region_size = mouth_region_size;
  m.audio = audio;
  m.epoch = file.find("epoch") ? file.at("epoch").as_int() - 1 : 0;
  m.scheduler_steps = m.epoch;
  m.seed = -1;  // unknown: the run's own seed is used
  return m;
}

StateDict checkpoint_weights(const torch::nn::Module& net) { return cpu_contiguous(module_state_dict(net)); }

namespace {

CheckpointMeta meta_of(const TorchValue& file, const fs::path& path, const std::string& trainer,
                       int64_t mouth_region_size, const AudioFeatureSpec& audio) {
  if (auto ours = read_meta(file, path.string(), {trainer}, mouth_region_size, audio)) return *ours;
  return published_meta(file, trainer, mouth_region_size, audio);
}

}  // namespace

void save_frame_checkpoint(const fs::path& file, FrameStep& step, const CheckpointMeta& meta, double lr_g,
                           double lr_dI) {
  TorchValue optimizer = TorchValue::dict();
  optimizer.set("net_g", adam_state_value(step.optimizer_g(), lr_g));
  optimizer.set("net_dI", adam_state_value(step.optimizer_d(), lr_dI));
  TorchValue checkpoint = published_generator_checkpoint(
      meta.epoch + 1, {{"net_g", checkpoint_weights(*step.generator())}, {"net_dI", checkpoint_weights(*step.discriminator())}},
      std::move(optimizer));
  checkpoint.set("dinet_meta", meta_value(meta));
  save_torch_file(file, checkpoint);
}

CheckpointMeta load_frame_checkpoint(const fs::path& file, FrameStep& step, int64_t mouth_region_size,
                                     const AudioFeatureSpec& audio) {
  const TorchValue value = load_torch_file(file);
  const CheckpointMeta meta = meta_of(value, file, "frame", mouth_region_size, audio);
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
                          const CheckpointMeta& meta, double lr, LipHeadState lip_head) {
  TorchValue checkpoint = published_syncnet_checkpoint(checkpoint_weights(*net));
  if (adam) {
    TorchValue optimizer = TorchValue::dict();
    optimizer.set("net", adam_state_value(*adam, lr));
    checkpoint.set("optimizer", std::move(optimizer));
    checkpoint.set("epoch", meta.epoch + 1);
    if (lip_head.head) {
      TorchValue head = TorchValue::dict();
      head.set("state_dict", state_dict_value(checkpoint_weights(*lip_head.head)));
      head.set("optimizer", adam_state_value(*lip_head.adam, lr));
      checkpoint.set("dinet_lip_head", std::move(head));
    }
  }
  checkpoint.set("dinet_meta", meta_value(meta));
  save_torch_file(file, checkpoint);
}

CheckpointMeta load_sync_checkpoint(const fs::path& file, SyncNet& net, torch::optim::Adam& adam,
                                    int64_t mouth_region_size, const AudioFeatureSpec& audio,
                                    LipHeadState lip_head) {
  const TorchValue value = load_torch_file(file);
  const CheckpointMeta meta = meta_of(value, file, "sync", mouth_region_size, audio);
  load_state_dict(*net, state_dict_from_value(value.at("state_dict").at("net"), file.string()), file.string());
  if (const TorchValue* optimizer = value.find("optimizer"))
    load_adam_state(adam, optimizer->at("net"), file.string() + ": optimizer net");
  const TorchValue* head = value.find("dinet_lip_head");
  if (head && lip_head.head) {
    load_state_dict(*lip_head.head, state_dict_from_value(head->at("state_dict"), file.string()), file.string());
    load_adam_state(*lip_head.adam, head->at("optimizer"), file.string() + ": optimizer dinet_lip_head");
  }
  return meta;
}

}  // namespace dinet::train
