// Trainer checkpoints: the published layouts (reference 4) plus 'dinet_meta', which holds
// what the published files lack: the mouth size and audio feature the networks were
// trained for, and the state a resumed run needs (epoch, scheduler steps, seed, loss scale).
// Written atomically, so a run killed at any moment leaves the previous checkpoints intact.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "dinet/audio_features.h"
#include "dinet/checkpoint.h"
#include "dinet/networks.h"
#include "dinet/torch_file.h"
#include "train/frame_step.h"

namespace dinet::train {

struct CheckpointMeta {
  std::string trainer;  // "frame" or "sync"
  int64_t mouth_region_size = 0;
  AudioFeatureSpec audio;
  int64_t epoch = 0;            // the last epoch completed
  int64_t scheduler_steps = 0;  // learning-rate schedule position
  int64_t seed = 0;             // -1 when the file is a published one
  double grad_scale = 0;        // fp16 loss scale (0: not used)
  int64_t grad_growth_tracker = 0;
};

// `meta` with the fp16 loss scale of `scaler` (unchanged when loss scaling is off), so that a
// resumed run continues with the same scale.
CheckpointMeta with_loss_scale(CheckpointMeta meta, const GradScaler& scaler);

// ---- the pieces every trainer's files share --------------------------------------------------
TorchValue meta_value(const CheckpointMeta& meta);  // the 'dinet_meta' dict
// Our 'dinet_meta' when `file` has it (nullopt for a published file), checked against the
// run: written by one of `trainers`, at this mouth size, with this audio feature.
std::optional<CheckpointMeta> read_meta(const TorchValue& file, const std::string& source,
                                        const std::vector<std::string>& trainers, int64_t mouth_region_size,
                                        const AudioFeatureSpec& audio);
// What a published file (no 'dinet_meta') implies: its 'epoch', a schedule started at epoch 1,
// the run's own mouth size, feature and seed.
CheckpointMeta published_meta(const TorchValue& file, const std::string& trainer, int64_t mouth_region_size,
                              const AudioFeatureSpec& audio);
// A network's weights as the files hold them: CPU, contiguous.
StateDict checkpoint_weights(const torch::nn::Module& net);

// netG_model_epoch_N.pth: {'epoch': N + 1, 'state_dict': {'net_g', 'net_dI'} ('module.'
// keys), 'optimizer': {'net_g', 'net_dI'}, 'dinet_meta'}.
void save_frame_checkpoint(const std::filesystem::path& file, FrameStep& step, const CheckpointMeta& meta,
                           double lr_g, double lr_dI);
// Restores networks, optimizers and loss scale from a file of ours or a published one (the
// published file has no 'dinet_meta': its 'epoch' and a schedule started at epoch 1 are
// assumed). Throws dinet::Error naming the file when it does not fit the run.
CheckpointMeta load_frame_checkpoint(const std::filesystem::path& file, FrameStep& step,
                                     int64_t mouth_region_size, const AudioFeatureSpec& audio);

// The training-only lip-shape head of the sync trainer and its optimizer (both or neither).
struct LipHeadState {
  torch::nn::Module* head = nullptr;
  torch::optim::Adam* adam = nullptr;
};

// syncnet_epoch_N.pth: {'state_dict': {'net'}, 'optimizer': {'net'}, 'epoch': N + 1,
// 'dinet_meta'} and, with a lip head, 'dinet_lip_head': {'state_dict', 'optimizer'} (not part
// of SyncNet: the published code ignores it); with `adam` null, the published
// {'state_dict': {'net'}} plus 'dinet_meta'.
void save_sync_checkpoint(const std::filesystem::path& file, SyncNet& net, const torch::optim::Adam* adam,
                          const CheckpointMeta& meta, double lr, LipHeadState lip_head = {});
// A file without 'dinet_lip_head' leaves `lip_head` as it is.
CheckpointMeta load_sync_checkpoint(const std::filesystem::path& file, SyncNet& net, torch::optim::Adam& adam,
                                    int64_t mouth_region_size, const AudioFeatureSpec& audio,
                                    LipHeadState lip_head = {});

}  // namespace dinet::train
