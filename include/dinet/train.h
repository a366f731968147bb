// Training on a prepared training_json.json (the published structure, `dinet prepare`):
//   train_sync   SyncNet (reference 3.2), which the published code ships but cannot train;
//   train_frame  the published frame stage (reference 5), coarse to fine 64 -> 128 -> 256;
//   train_clip   the published clip stage (reference 5): frame and clip discriminators and
//                the SyncNet loss, from a frame-stage generator.
// Checkpoints keep the published layouts, so the published PyTorch code loads them; our own
// settings and resume state ride along under the extra top-level key 'dinet_meta'.
// docs/training.md is the user's guide.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dinet {

// What one epoch measured, under the names train_log.jsonl gives them ("loss_dI",
// "mouth_l1", "samples_per_s", ...), in the order the epoch line shows them.
struct EpochFigures {
  int64_t epoch = 0;
  std::vector<std::pair<std::string, double>> values;
  double at(const std::string& key) const;  // throws dinet::Error for a figure not measured
};

// What every trainer shares.
struct TrainRunOptions {
  std::filesystem::path train_data;   // training_json.json
  std::filesystem::path result_path;  // checkpoints, train_log.jsonl, samples/
  int64_t mouth_region_size = 64;
  int64_t batch_size = 24;
  int64_t augment_num = 32;  // an epoch visits every training video this many times
  int64_t seed = 456;
  int threads = 0;           // LibTorch/OpenCV threads; <= 0: every core
  int workers = 2;           // data-loading threads
  int prefetch = 4;          // batches loaded ahead of the training step
  std::string device = "cpu";        // "cpu" or "cuda"
  std::string precision = "fp32";    // "fp32", "bf16" (CPU with bf16 support, CUDA), "fp16" (CUDA)
  bool channels_last = true;         // NHWC activations: faster convolutions on the CPU
  bool resume = false;               // continue from the newest checkpoint in result_path
  bool force = false;                // start over in a result_path that holds another run
  // Fraction of videos (chosen by name, reproducibly) kept out of training for evaluation.
  // With fewer than 4 videos, the last clips of every video are held out instead.
  double holdout = 0.0;
  bool show_progress = true;
  // Stop after the epoch during which this many minutes have passed (0: no limit); that
  // epoch is always checkpointed.
  double max_minutes = 0;
  // Keep only the newest N of the run's epoch checkpoints (0: keep all).
  int keep_checkpoints = 0;
  // Called on rank 0 after each epoch, with its figures and the checkpoint just written
  // (empty when the epoch wrote none).
  std::function<void(const EpochFigures&, const std::filesystem::path& checkpoint)> after_epoch;
};

// ---- SyncNet ---------------------------------------------------------------------------
struct SyncTrainOptions : TrainRunOptions {
  int64_t epochs = 30;
  double lr = 1e-4;
  int64_t decay = 0;        // the last N epochs decay the learning rate linearly (as published)
  int64_t checkpoint = 1;   // a checkpoint every N epochs (and after the last)
  int64_t max_offset = 6;   // the evaluation scans audio offsets -K..K frames
  int64_t eval_clips = 48;  // held-out clips used for the offset scan
  // Weight of the lip-shape loss: a training-only head regresses the lip opening and width of
  // the 5 frames (from the landmark CSVs) from the mouth embedding, which makes the face
  // encoder look at the lips. 0 turns it off; videos without a CSV do without it.
  double lip_loss = 1.0;
  SyncTrainOptions() { batch_size = 32; augment_num = 16; holdout = 0.1; }
};


// Trains, writes `syncnet_epoch_N.pth` every `checkpoint` epochs and `syncnet_<m>mouth.pth`
// at the end, and returns one result per epoch run now. Throws dinet::Error on bad data
// or options.
std::vector<EpochFigures> train_sync(const SyncTrainOptions& options);

// ---- frame stage --------------------------------------------------------------------------
struct FrameTrainOptions : TrainRunOptions {
  double lr_g = 1e-4, lr_dI = 1e-4;
  int64_t non_decay = 200;  // epochs at the full learning rate
  int64_t decay = 200;      // then epochs of linear decay
  int64_t checkpoint = 2;   // netG_model_epoch_N.pth when N % checkpoint == 0
  int64_t start_epoch = 1;
  // Stop after this epoch (0: non_decay + decay, as published); for short runs.
  int64_t end_epoch = 0;
  bool coarse2fine = false;
  std::filesystem::path coarse_model_path;  // the previous stage's checkpoint (net_g)
  // torchvision's vgg19-dcbb9e9d.pth, or "random" (tests, benchmarks).
  std::string vgg_weights;
  double lamb_perception = 10;
  bool hflip = false;        // mirror whole samples at random (not in the published recipe)
  // Recompute the generator's encoders and decoder in the backward instead of keeping their
  // activations: less memory (mouth 256), a longer step, the same gradients.
  bool gradient_checkpointing = false;
  int64_t eval_samples = 32; // fixed samples for the per-epoch mouth L1 and the PNG grid
  // Before each epoch's evaluation and checkpoint, the generator's running BatchNorm
  // statistics are re-estimated as the plain average over this many of the epoch's training
  // batches (train/batchnorm_statistics.h); 0 keeps training's running averages, as published.
  int64_t bn_batches = 25;
};


std::vector<EpochFigures> train_frame(const FrameTrainOptions& options);

// ---- clip stage ---------------------------------------------------------------------------
// train_DINet_clip.py: per sample a clip's 5 centre frames, each with its own 5 references,
// generated in one batch; frame discriminator (net_dI), clip discriminator on the 5 frames
// stacked on channels (net_dV), perceptual loss, and the sync loss
// lamb_syncnet_perception * MSE(SyncNet(generated mouths, the clip's 9 feature rows), 1).
struct ClipTrainOptions : TrainRunOptions {
  double lr_g = 1e-4, lr_dI = 1e-4;
  double lr_dV = 0;         // <= 0: lr_dI, as published (optimizer_dV uses opt.lr_dI)
  int64_t non_decay = 200;  // epochs at the full learning rate
  int64_t decay = 200;      // then epochs of linear decay
  int64_t checkpoint = 2;   // netG_model_epoch_N.pth when N % checkpoint == 0
  int64_t start_epoch = 1;
  int64_t end_epoch = 0;    // stop after this epoch (0: non_decay + decay)
  // The frame stage's checkpoint (or the released clip_training_DINet_256mouth.pth): its
  // net_g starts the run. Not needed when --resume finds a clip checkpoint.
  std::filesystem::path pretrained_frame_DINet_path;
  // The SyncNet of the sync loss, trained at the same mouth size (syncnet_<m>mouth.pth of
  // `dinet train sync`, or the released syncnet_256mouth.pth); frozen.
  std::filesystem::path pretrained_syncnet_path;
  std::string vgg_weights;  // as FrameTrainOptions
  double lamb_perception = 10;
  double lamb_syncnet_perception = 0.1;
  bool gradient_checkpointing = false;  // as FrameTrainOptions
  int64_t eval_samples = 4;  // fixed clips for the per-epoch mouth L1, sync score and PNG grid
  // Before each epoch's evaluation and checkpoint, the generator's running BatchNorm
  // statistics are re-estimated as the plain average over this many of the epoch's training
  // batches (train/batchnorm_statistics.h); 0 keeps training's running averages, as published.
  int64_t bn_batches = 25;
};


std::vector<EpochFigures> train_clip(const ClipTrainOptions& options);

// ---- checkpoints of a run ----------------------------------------------------------------
struct FoundCheckpoint {
  int64_t epoch = 0;
  std::filesystem::path file;
};
// The checkpoints `<prefix><N>.pth` in `dir`, in no particular order. Temporaries of
// interrupted writes never match.
std::vector<FoundCheckpoint> checkpoints(const std::filesystem::path& dir, const std::string& prefix);
// The one with the largest N (what --resume continues from), if any.
std::optional<FoundCheckpoint> newest_checkpoint(const std::filesystem::path& dir, const std::string& prefix);

}  // namespace dinet
