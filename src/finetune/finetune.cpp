// `dinet finetune`: split, prepare, train, measure (dinet/finetune.h). Each step is one of the
// existing pieces; this file only chooses their options and keeps the run's record.
#include "dinet/finetune.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/infer.h"
#include "dinet/interrupt.h"
#include "dinet/media.h"
#include "dinet/prepare.h"
#include "dinet/selfrecon.h"
#include "dinet/torch_file.h"
#include "dinet/train.h"

namespace dinet {
namespace fs = std::filesystem;
namespace {

constexpr double kFps = 25.0;
constexpr int64_t kMinTrainFrames = 50;    // 2 s: a few 9-frame clips
constexpr int64_t kMinHoldoutFrames = 25;  // 1 s to measure on

using Clock = std::chrono::steady_clock;
double minutes_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count() / 60; }

// The files of a run under its result path.
struct RunPaths {
  fs::path dir, record, data_root, train_video, holdout_dir, holdout_video, holdout_landmarks, other_audio,
      clip_dir, final_model;
  explicit RunPaths(const FinetuneOptions& o) : dir(o.result_path) {
    const std::string name = o.source_video.stem().string();
    record = dir / "finetune.json";
    data_root = dir / "data";
    train_video = data_root / "training_data" / "split_video_25fps" / (name + ".mp4");
    holdout_dir = dir / "holdout";
    holdout_video = holdout_dir / (name + ".mp4");
    holdout_landmarks = holdout_dir / (name + ".csv");
    other_audio = holdout_dir / "other_audio.wav";
    clip_dir = dir / "clip";
    final_model = dir / "final.pth";
  }
};

void check_options(const FinetuneOptions& o) {
  require_file(o.source_video, "source video");
  if (o.result_path.empty()) throw Error("--result_path", "is required");
  if (o.mouth_region_size != 64 && o.mouth_region_size != 128 && o.mouth_region_size != 256)
    throw Error("--mouth_region_size", "must be 64, 128 or 256");
  if (o.minutes <= 0 && o.epochs <= 0) throw Error("--minutes/--epochs", "give a time or an epoch budget (or both)");
  if (o.holdout_seconds < 0) throw Error("--holdout_seconds", "must not be negative");
  if (o.clip_share < 0 || o.clip_share >= 1) throw Error("--clip_share", "must be in [0, 1)");
  if (!o.init_model.empty()) require_file(o.init_model, "--init model");
  if (!o.pretrained_syncnet_path.empty()) require_file(o.pretrained_syncnet_path, "SyncNet");
  if (!o.other_audio.empty()) require_file(o.other_audio, "other audio");
}

// The run's record, finetune.json; a new run starts it with the split.
nlohmann::json read_record(const RunPaths& paths) {
  return nlohmann::json::parse(read_file(paths.record), nullptr, /*allow_exceptions=*/false);
}

void write_record(const RunPaths& paths, const nlohmann::json& record) {
  write_file_atomic(paths.record, record.dump(2) + "\n");
}

// Refuses a result path holding another run unless --resume (the same video) or --force,
// which removes what an earlier fine-tune wrote there (only our own names).
void claim(const FinetuneOptions& o, const RunPaths& paths, const std::string& sha256) {
  if (!fs::exists(paths.record)) return;
  if (o.force) {
    for (const fs::path& p : {paths.record, paths.final_model, paths.dir / "selfrecon.json",
                              paths.dir / "selfrecon.html"})
      fs::remove(p);
    for (const fs::path& p : {paths.data_root, paths.holdout_dir, paths.clip_dir}) fs::remove_all(p);
    return;
  }
  if (!o.resume)
    throw Error(paths.dir.string(), "holds another fine-tune run (finetune.json): add --resume to continue it or "
                                    "--force to start over");
  const nlohmann::json record = read_record(paths);
  if (record.is_discarded() || record.value("source_video_sha256", "") != sha256)
    throw Error(paths.record.string(), "records another video than " + o.source_video.string() +
                                           ": --resume continues a run on the same video (--force starts over)");
}

// The audio of frames [first_frame, end_frame); end_frame < 0: to the end.
Audio slice(const Audio& audio, int64_t first_frame, int64_t end_frame) {
  Audio part;
  part.sample_rate = audio.sample_rate;
  const auto at = [&](int64_t frame) {
    if (frame < 0) return audio.samples.size();
    return std::min(audio.samples.size(), static_cast<size_t>(std::llround(frame / kFps * audio.sample_rate)));
  };
  part.samples.assign(audio.samples.begin() + at(first_frame), audio.samples.begin() + at(end_frame));
  return part;
}

// Writes the training part (frames [0, T)) and the held-out part (frames [T, end)) at 25 fps,
// each with its own audio, and the other-audio baseline's default (the first held-out-length
// stretch of the training part's audio: the same voice, other words). One pass over the video.
nlohmann::json split_video(const FinetuneOptions& o, const RunPaths& paths) {
  VideoReader reader(o.source_video);
  const VideoInfo info = reader.info();
  const Audio audio = load_audio(o.source_video, 48000);
  const int64_t frames = info.frame_count;
  const int64_t holdout = o.holdout_seconds > 0 ? std::llround(o.holdout_seconds * kFps) : frames / 4;
  const int64_t train = frames - holdout;
  if (holdout < kMinHoldoutFrames || train < kMinTrainFrames)
    throw Error(o.source_video.string(),
                "too short to fine-tune on: " + std::to_string(frames) + " frames at 25 fps, " +
                    std::to_string(holdout) + " held out; needs " + std::to_string(kMinTrainFrames) +
                    " to train on and " + std::to_string(kMinHoldoutFrames) + " to measure on");
  fs::create_directories(paths.train_video.parent_path());
  fs::create_directories(paths.holdout_dir);
  const Audio train_audio = slice(audio, 0, train), holdout_audio = slice(audio, train, -1);
  VideoWriterOptions video;
  video.crf = 12;  // the parts are training data and ground truth: keep them close to the source
  VideoWriter train_writer(paths.train_video, info.width, info.height, video, &train_audio);
  VideoWriter holdout_writer(paths.holdout_video, info.width, info.height, video, &holdout_audio);
  cv::Mat frame;
  int64_t k = 0;
  for (; reader.read(frame); ++k) {
    if (k % 64 == 0) throw_if_interrupted();
    (k < train ? train_writer : holdout_writer).write(frame);
  }
  if (k <= train) throw Error(o.source_video.string(), "has fewer frames than its duration says");
  train_writer.finish();
  holdout_writer.finish();
  write_wav(paths.other_audio, slice(audio, 0, std::min(train, k - train)));
  return {{"source_video", fs::absolute(o.source_video).string()},
          {"train_frames", train},
          {"holdout_frames", k - train},
          {"holdout_first_frame", train}};
}

void prepare_training_part(const FinetuneOptions& o, const RunPaths& paths) {
  PrepareParams p = default_prepare_params(paths.data_root);
  p.steps.detect_landmarks = p.steps.extract_audio = p.steps.extract_audio_feature = true;
  p.steps.crop_face = p.steps.generate_training_json = true;
  p.audio_feature = o.audio_feature;
  if (!o.deepspeech_model.empty()) p.deep_speech_model = o.deepspeech_model;
  p.jobs = 1;
  p.show_progress = o.show_progress;
  p.cancel = &interrupt_flag();
  const PrepareSummary summary = run_prepare(p);
  throw_if_interrupted();
  for (const StepOutcome& step : summary.outcomes)
    if (step.status == StepStatus::failed)
      throw Error(paths.train_video.string(), "could not be prepared (" + step.step + "): " + step.reason);
}

// The frame stage's newest checkpoint.
FoundCheckpoint newest_frame_checkpoint(const RunPaths& paths) {
  if (auto frame = newest_checkpoint(paths.dir, "netG_model_epoch_")) return *frame;
  throw Error(paths.dir.string(), "no checkpoint was written (the budget ended before the first epoch)");
}

// The checkpoint the run ends with: the clip stage's newest when it ran, else the frame stage's.
fs::path newest_generator(const RunPaths& paths) {
  if (auto clip = newest_checkpoint(paths.clip_dir, "netG_model_epoch_")) return clip->file;
  return newest_frame_checkpoint(paths).file;
}

// final.pth: the published generator layout (net_g only), its 'dinet_meta' plus the person's
// video and the frames held out, so a model says where it came from.
void write_final_model(const fs::path& checkpoint, const RunPaths& paths, const nlohmann::json& record) {
  const TorchValue file = load_torch_file(checkpoint);
  TorchValue out = published_generator_checkpoint(file.at("epoch").as_int(),
                                                  {{"net_g", read_state_dict(checkpoint, {"state_dict", "net_g"})}});
  TorchValue meta = file.at("dinet_meta");
  TorchValue person = TorchValue::dict();
  person.set("source_video", record.at("source_video").get<std::string>());
  person.set("source_video_sha256", record.at("source_video_sha256").get<std::string>());
  person.set("holdout_first_frame", record.at("holdout_first_frame").get<int64_t>());
  person.set("holdout_frames", record.at("holdout_frames").get<int64_t>());
  meta.set("finetune", person);
  out.set("dinet_meta", meta);
  save_torch_file(paths.final_model, out);
}

SelfReconOptions selfrecon_options(const FinetuneOptions& o, const RunPaths& paths, const fs::path& model) {
  SelfReconOptions s;
  s.model_path = model;
  s.holdout_video = paths.holdout_video;
  s.holdout_landmarks = paths.holdout_landmarks;
  s.other_audio = o.other_audio.empty() ? paths.other_audio : o.other_audio;
  s.baseline_model = o.init_model;
  s.still_mouth_video = paths.train_video;
  s.output_dir = paths.dir;
  s.infer.precision = automatic_precision(o.device);
  s.infer.device = o.device;
  s.infer.threads = o.threads;
  s.infer.deepspeech_model = o.deepspeech_model;
  s.infer.show_progress = false;
  return s;
}

// Measures `model` on the held-out part, writes the report and adds the figures to the record.
void measure(const FinetuneOptions& o, const RunPaths& paths, const fs::path& model, int64_t epoch,
                  double minutes, nlohmann::json& record) {
  if (o.show_progress) std::fprintf(stderr, "dinet finetune: measuring %s on the held-out frames\n", model.c_str());
  const SelfRecon recon = self_reconstruction(selfrecon_options(o, paths, model));
  write_selfrecon_report(paths.dir, recon);
  const auto finite = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); };
  const SelfReconVariant& own = recon.variants.front();
  record["evaluations"].push_back({{"model", model.filename().string()},
                                   {"epoch", epoch},
                                   {"training_minutes", minutes},
                                   {"lmd_iod", finite(own.lmd_iod)},
                                   {"lmd_ratio_other_audio", finite(recon.lmd_ratio_other_audio())},
                                   {"lmd_ratio_baseline", finite(recon.lmd_ratio_baseline())},
                                   {"mouth_l1", finite(own.mouth_l1)},
                                   {"mouth_psnr", finite(own.mouth_psnr)}});
  write_record(paths, record);
  if (o.show_progress)
    std::fprintf(stderr,
                 "dinet finetune: epoch %lld, LMD/IOD %.4f (own audio), ratio to other audio %.2f, to the baseline "
                 "%.2f; report %s\n",
                 static_cast<long long>(epoch), own.lmd_iod, recon.lmd_ratio_other_audio(),
                 recon.lmd_ratio_baseline(), (paths.dir / "selfrecon.html").c_str());
}

// What the frame and the clip stage take from a fine-tune. A budget, not a schedule, ends the
// run, so the learning rate stays where it starts and every epoch leaves a checkpoint.
template <class StageOptions>
void stage_options(const FinetuneOptions& o, StageOptions& t, const fs::path& train_data, const fs::path& dir) {
  t.train_data = train_data;
  t.result_path = dir;
  t.mouth_region_size = o.mouth_region_size;
  t.seed = o.seed;
  t.threads = o.threads;
  t.device = o.device;
  t.precision = o.precision == "auto" ? to_string(automatic_precision(o.device)) : o.precision;
  t.resume = o.resume;
  t.force = o.force;
  t.show_progress = o.show_progress;
  t.keep_checkpoints = 2;  // the newest for the result, one more in case it is being replaced
  t.augment_num = o.augment_num;
  t.lr_g = t.lr_dI = o.lr;
  t.vgg_weights = o.vgg_weights;
  t.checkpoint = 1;
  t.non_decay = 1000000;
  t.decay = 0;
}

}  // namespace

FinetuneResult finetune(const FinetuneOptions& o) {
  check_options(o);
  const InterruptScope interrupts("dinet finetune");
  const RunPaths paths(o);
  const std::string sha256 = file_sha256(o.source_video);
  claim(o, paths, sha256);
  fs::create_directories(paths.dir);
  remove_dead_temporaries(paths.dir);

  // 1. Split (once: a resumed run keeps its split).
  nlohmann::json record = fs::exists(paths.record) ? read_record(paths) : nlohmann::json();
  if (record.is_discarded() || !record.contains("holdout_frames")) {
    record = split_video(o, paths);
    record["source_video_sha256"] = sha256;
    record["mouth_region_size"] = o.mouth_region_size;
    record["init_model"] = o.init_model.string();
    record["evaluations"] = nlohmann::json::array();
    write_record(paths, record);
  }
  // 2. Prepare the training part (resumable by its own markers).
  prepare_training_part(o, paths);
  const fs::path train_data = paths.data_root / "training_data" / "training_json.json";

  // 3. The frame stage, measured every eval_minutes.
  const auto start = Clock::now();
  const double budget = o.minutes > 0 ? o.minutes : 0;
  const bool clip_stage = !o.pretrained_syncnet_path.empty();
  FrameTrainOptions frame;
  stage_options(o, frame, train_data, paths.dir);
  frame.batch_size = o.batch_size;
  frame.eval_samples = std::min<int64_t>(frame.eval_samples, o.augment_num);
  frame.bn_batches = std::min<int64_t>(frame.bn_batches, std::max<int64_t>(1, o.augment_num / o.batch_size));
  frame.end_epoch = o.epochs > 0 ? o.epochs : frame.non_decay;
  frame.max_minutes = budget * (clip_stage ? 1 - o.clip_share : 1);
  if (!o.init_model.empty()) {
    frame.coarse2fine = true;
    frame.coarse_model_path = o.init_model;
  }
  auto last_measure = Clock::now();
  int64_t measured_epoch = -1;
  frame.after_epoch = [&](const EpochFigures& figures, const fs::path& checkpoint) {
    if (o.eval_minutes <= 0 || checkpoint.empty() || minutes_since(last_measure) < o.eval_minutes) return;
    measure(o, paths, checkpoint, figures.epoch, minutes_since(start), record);
    last_measure = Clock::now();
    measured_epoch = figures.epoch;
  };
  train_frame(frame);

  // 4. The clip stage, with the SyncNet's loss, from the frame stage's newest generator.
  if (clip_stage) {
    ClipTrainOptions clip;
    stage_options(o, clip, train_data, paths.clip_dir);
    clip.batch_size = std::max<int64_t>(1, o.batch_size / 4);  // a sample is 5 frames, each with its references
    clip.end_epoch = o.epochs > 0 ? std::max<int64_t>(1, std::llround(o.epochs * o.clip_share)) : clip.non_decay;
    clip.max_minutes = budget > 0 ? std::max(0.0, budget - minutes_since(start)) : 0;
    clip.pretrained_frame_DINet_path = newest_frame_checkpoint(paths).file;
    clip.pretrained_syncnet_path = o.pretrained_syncnet_path;
    train_clip(clip);
  }

  // 5. final.pth and the final report.
  write_final_model(newest_generator(paths), paths, record);
  FinetuneResult result;
  result.final_model = paths.final_model;
  result.report = paths.dir / "selfrecon.html";
  result.epochs = newest_frame_checkpoint(paths).epoch;
  result.minutes = minutes_since(start);
  // final.pth holds the weights of the last frame checkpoint unless the clip stage ran: when the
  // last evaluation measured them, its report stands.
  if (clip_stage || measured_epoch != result.epochs)
    measure(o, paths, paths.final_model, result.epochs, result.minutes, record);
  const nlohmann::json& last = record["evaluations"].back();
  const auto figure = [&](const char* key) { return last[key].is_number() ? last[key].get<double>() : NAN; };
  result.lmd_iod = figure("lmd_iod");
  result.lmd_ratio_other_audio = figure("lmd_ratio_other_audio");
  result.lmd_ratio_baseline = figure("lmd_ratio_baseline");
  record["final_model"] = paths.final_model.filename().string();
  write_record(paths, record);
  return result;
}

}  // namespace dinet
