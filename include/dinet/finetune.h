// `dinet finetune`: a model of one person from one video, the way practitioners get a good dub
// of a face the released models never saw. One command runs the whole path with the existing
// pieces: the video's last seconds are held out (never trained on); the rest is prepared
// (landmarks, crops, audio features) and trained by the frame stage, from a given generator
// or from scratch, then by the clip stage when a SyncNet is given; every few minutes and at
// the end the held-out seconds are dubbed and measured (dinet/selfrecon.h).
//
// <result_path>/
//   final.pth                  the generator (published layout, net_g), with the person's video
//                              (name, SHA-256) and the held-out frames recorded in 'dinet_meta'
//   selfrecon.json, .html      the last self-reconstruction report
//   finetune.json              the run: source, split, stages, every evaluation's figures
//   data/                      the prepared training part (`dinet prepare` layout)
//   holdout/                   the held-out part: video, its landmarks
//   netG_model_epoch_N.pth, train_log.jsonl, samples/   the frame stage (clip/ the clip stage)
//
// Resumable like the trainers: --resume continues a killed run; a result path holding another
// run is refused unless --force.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace dinet {

struct FinetuneOptions {
  std::filesystem::path source_video;  // one person, any fps, any audio
  std::filesystem::path result_path;
  int mouth_region_size = 64;
  std::filesystem::path init_model;    // a generator to start from; empty: from scratch
  double minutes = 0;                  // time budget of the training (0: none); stops after that epoch
  int64_t epochs = 0;                  // epoch budget (0: none); at least one of the two is needed
  double holdout_seconds = 0;          // the video's last seconds never trained on; 0: the last 25 %
  std::string audio_feature = "mel";   // "mel" or "deepspeech"
  std::filesystem::path deepspeech_model;       // output_graph.pb for deepspeech
  std::filesystem::path pretrained_syncnet_path;  // runs the clip stage when given
  double clip_share = 0.3;             // of the budget spent in the clip stage (with a SyncNet)
  std::filesystem::path other_audio;   // drives the other-audio baseline; empty: none
  double eval_minutes = 10;            // a self-reconstruction every N minutes of training (0: only at the end)
  // The frame trainer's options where they apply.
  std::string vgg_weights = "random";  // torchvision's vgg19-dcbb9e9d.pth, or "random"
  std::string precision = "auto";      // auto: bf16 on a CPU that has it in hardware, else fp32
  std::string device = "cpu";
  int threads = 0;
  int64_t batch_size = 8;
  int64_t augment_num = 32;            // samples of the video per epoch (an epoch ends with a checkpoint)
  double lr = 1e-4;
  int64_t seed = 456;
  bool resume = false;
  bool force = false;
  bool show_progress = true;
};

struct FinetuneResult {
  std::filesystem::path final_model;   // <result_path>/final.pth
  std::filesystem::path report;        // <result_path>/selfrecon.html
  int64_t epochs = 0;                  // frame-stage epochs done in all
  double minutes = 0;                  // of training in this run
  double lmd_iod = 0;                  // own audio, held-out frames
  double lmd_ratio_other_audio = 0, lmd_ratio_baseline = 0;  // NaN when not measured
};

// Throws dinet::Error naming the file or the option on bad input.
FinetuneResult finetune(const FinetuneOptions& options);

}  // namespace dinet
