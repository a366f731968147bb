// The clip stage's files: its checkpoints (the published layout of train_DINet_clip.py plus
// 'dinet_meta', as train_checkpoints.h does for the frame stage) and its two starting points,
// the frame stage's generator and the SyncNet of the sync loss, checked against the run.
#pragma once

#include <filesystem>
#include <string>

#include "dinet/audio_features.h"
#include "dinet/networks.h"
#include "train/clip_step.h"
#include "train/train_checkpoints.h"

namespace dinet::train {

// netG_model_epoch_N.pth: {'epoch': N + 1, 'state_dict': {'net_g', 'net_dI', 'net_dV'}
// ('module.' keys), 'optimizer': {'net_g', 'net_dI', 'net_dV'}, 'dinet_meta'}, written
// atomically.
void save_clip_checkpoint(const std::filesystem::path& file, ClipStep& step, const CheckpointMeta& meta,
                          double lr_g, double lr_dI, double lr_dV);
// Restores networks, optimizers and loss scale for --resume from a clip checkpoint of ours
// or a published one (which must hold net_dV; its 'epoch' and a schedule started at epoch 1
// are assumed). Throws dinet::Error naming the file when it does not fit the run.
CheckpointMeta load_clip_checkpoint(const std::filesystem::path& file, ClipStep& step, int64_t mouth_region_size,
                                    const AudioFeatureSpec& audio);

// The generator that starts a clip run: net_g of a frame (or clip) checkpoint of ours, of a
// published one (the released clip_training_DINet_256mouth.pth included) or a bare state
// dict. `option` names the command-line option in errors. Our files must have been trained
// at `mouth_region_size` on the same audio feature; every file must fit the feature's
// channel count.
DINet load_start_generator(const std::filesystem::path& file, const std::string& option, int64_t mouth_region_size,
                           const AudioFeatureSpec& audio);

// The SyncNet of the sync loss: a checkpoint of `dinet train sync` trained at
// `mouth_region_size` on the same feature, or a published one (the released
// syncnet_256mouth.pth), whose mouth size the file does not record.
SyncNet load_sync_loss_network(const std::filesystem::path& file, const std::string& option,
                               int64_t mouth_region_size, const AudioFeatureSpec& audio);

}  // namespace dinet::train
