// run_prepare: checks the settings, then runs the stages in the published order, each over
// its videos in parallel: split HDTF, resample to 25 fps, one pass per source video (audio,
// features, then one decode for frames, landmarks and crops), and the training json.
#include <algorithm>
#include <chrono>
#include <numeric>

#include "dinet/error.h"
#include "dinet/media.h"
#include "prepare_steps.h"

namespace dinet {
namespace {

using namespace prepare;

void require_dir(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir.string(), "no such folder (" + what + ")");
}

void check_settings(const PrepareParams& p) {
  if (!p.steps.any()) throw Error("nothing to do: choose steps (--crop_face, ...) or --all");
  if (p.clip_length < 1) throw Error("--clip_length must be at least 1");
  if (p.audio_feature != "deepspeech" && p.audio_feature != "mel")
    throw Error("--audio_feature must be deepspeech or mel, not '" + p.audio_feature + "'");
  if (p.image_format != "jpg" && p.image_format != "png")
    throw Error("--image_format must be jpg or png, not '" + p.image_format + "'");
  if (p.jpeg_quality < 0 || p.jpeg_quality > 100) throw Error("--jpeg_quality must be 0..100");
  if (p.hdtf_size < 16) throw Error("--hdtf_size must be at least 16");
  if (p.steps.split_hdtf) {
    require_dir(p.hdtf_annotation_dir, "HDTF annotations, --hdtf_annotation_dir");
    require_dir(p.hdtf_video_dir, "raw HDTF videos, --hdtf_video_dir");
  }
  if (p.steps.resample_25fps) require_dir(p.raw_video_dir, "videos to resample, --raw_video_dir");
}

// Estimated frames a video's decode pass will read, for the progress bar; 0 on errors,
// which the step itself reports.
int64_t probe_frames(const fs::path& file) {
  try {
    return VideoReader(file).info().frame_count;
  } catch (const std::exception&) {
    return 0;
  }
}

// Runs one task per video in parallel under one progress bar, longest videos first (so a
// long video does not start last and run alone). Each task appends to its video's slot as
// its steps finish, so the outcomes keep the videos' order, and an interrupted video still
// reports the steps it completed.
void run_stage(RunContext& ctx, const std::string& label, const std::vector<int64_t>& frames,
               const std::function<void(size_t, std::vector<StepOutcome>&)>& task,
               PrepareSummary& summary) {
  const size_t count = frames.size();
  if (count == 0) return;
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return frames[a] > frames[b]; });
  std::vector<std::vector<StepOutcome>> slots(count);
  std::unique_ptr<Progress> progress;
  if (ctx.params.show_progress)
    progress = std::make_unique<Progress>(
        label, std::accumulate(frames.begin(), frames.end(), int64_t{0}), "frames");
  ctx.progress = progress.get();
  ctx.videos_done = 0;
  ctx.videos_total = static_cast<int>(count);
  if (progress) progress->set_fields("videos 0/" + std::to_string(count));
  try {
    run_parallel(count, ctx.params.jobs, [&](size_t i) {
      task(order[i], slots[order[i]]);
      ctx.video_finished();
    });
  } catch (const Interrupted&) {
    summary.interrupted = true;
  }
  if (progress) progress->finish();
  ctx.progress = nullptr;
  for (auto& slot : slots)
    summary.outcomes.insert(summary.outcomes.end(), slot.begin(), slot.end());
}

}  // namespace

bool PrepareSteps::any() const {
  return split_hdtf || resample_25fps || detect_landmarks || extract_video_frame || extract_audio ||
         extract_audio_feature || crop_face || generate_training_json;
}

PrepareParams default_prepare_params(const fs::path& root) {
  PrepareParams p;
  const fs::path data = root / "training_data";
  p.hdtf_video_dir = data / "HDTF_video";
  p.hdtf_annotation_dir = data / "HDTF_dataset";
  p.raw_video_dir = data / "split_video";
  p.source_video_dir = data / "split_video_25fps";
  p.openface_landmark_dir = data / "split_video_25fps_landmark_openface";
  p.video_frame_dir = data / "split_video_25fps_frame";
  p.audio_dir = data / "split_video_25fps_audio";
  p.deep_speech_dir = data / "split_video_25fps_deepspeech";
  p.crop_face_dir = data / "split_video_25fps_crop_face";
  p.json_path = data / "training_json.json";
  p.deep_speech_model = root / "output_graph.pb";
  return p;
}

int PrepareSummary::count(StepStatus status) const {
  int n = 0;
  for (const auto& o : outcomes) n += o.status == status;
  return n;
}

std::vector<std::string> PrepareSummary::failed_videos() const {
  std::vector<std::string> videos;
  for (const auto& o : outcomes)
    if (o.status == StepStatus::failed &&
        std::find(videos.begin(), videos.end(), o.video) == videos.end())
      videos.push_back(o.video);
  return videos;
}

uint64_t PrepareSummary::disk_bytes() const {
  uint64_t total = 0;
  for (const auto& [path, bytes] : disk_usage) total += bytes;
  return total;
}

PrepareSummary run_prepare(const PrepareParams& params) {
  PrepareParams p = params;
  if (p.all) {
    std::error_code ec;
    p.steps.split_hdtf |= fs::is_directory(p.hdtf_annotation_dir, ec);
    p.steps.resample_25fps |= fs::is_directory(p.raw_video_dir, ec);
    p.steps.detect_landmarks = p.steps.extract_audio = p.steps.extract_audio_feature = true;
    p.steps.crop_face = p.steps.generate_training_json = true;
  }
  check_settings(p);
  const auto start = std::chrono::steady_clock::now();
  PrepareSummary summary;
  RunContext ctx{p};

  if (p.steps.split_hdtf) {
    const auto videos = read_hdtf_annotations(p.hdtf_annotation_dir, p.hdtf_video_dir);
    std::vector<int64_t> frames;  // decoded up to the end of the last clip
    for (const auto& v : videos)
      frames.push_back(
          v.file.empty() || v.intervals.empty() ? 0 : int64_t(v.intervals.back().second * 25));
    run_stage(
        ctx, "split HDTF", frames,
        [&](size_t i, std::vector<StepOutcome>& out) {
          out.push_back(guarded("split_hdtf", videos[i].name,
                                [&] { return split_hdtf_video(ctx, videos[i]); }));
        },
        summary);
  }
  if (p.steps.resample_25fps && !summary.interrupted) {
    const auto files = list_videos(p.raw_video_dir);
    std::vector<int64_t> frames(files.size());
    run_parallel(files.size(), p.jobs, [&](size_t i) { frames[i] = probe_frames(files[i]); });
    run_stage(
        ctx, "25 fps", frames,
        [&](size_t i, std::vector<StepOutcome>& out) {
          out.push_back(guarded("resample_25fps", video_name(files[i]),
                                [&] { return resample_video(ctx, files[i]); }));
        },
        summary);
  }

  const PrepareSteps& s = p.steps;
  const bool audio_steps = s.extract_audio || s.extract_audio_feature;
  const bool video_steps = s.extract_video_frame || s.detect_landmarks || s.crop_face;
  if ((audio_steps || video_steps) && !summary.interrupted) {
    require_dir(p.source_video_dir, "25 fps source videos, --source_video_dir");
    const auto files = list_videos(p.source_video_dir);
    // Loaded once for all videos, and only when a video still needs it: features given by
    // the user (an existing _deepspeech.txt) need no model.
    std::unique_ptr<AudioFeatureExtractor> features;
    if (s.extract_audio_feature && std::any_of(files.begin(), files.end(), [&](const fs::path& f) {
          return feature_needed(p, f);
        })) {
      std::error_code ec;
      if (p.audio_feature == "deepspeech" && !fs::is_regular_file(p.deep_speech_model, ec))
        throw Error(p.deep_speech_model.string(),
                    "no DeepSpeech v0.1.0 graph (output_graph.pb from the published DINet "
                    "assets, not redistributable): give --deep_speech_model, or use "
                    "--audio_feature mel");
      features = std::make_unique<AudioFeatureExtractor>(
          AudioFeatureOptions{p.audio_feature, p.deep_speech_model,
                              deepspeech_precision(p.deepspeech_precision)});
    }
    std::vector<int64_t> frames(files.size());  // opening thousands of videos takes a while
    run_parallel(files.size(), p.jobs, [&](size_t i) {
      frames[i] = video_pass_needed(p, files[i]) ? probe_frames(files[i]) : 0;
    });
    run_stage(
        ctx, "prepare", frames,
        [&](size_t i, std::vector<StepOutcome>& out) {
          if (audio_steps) out = prepare_audio(ctx, files[i], features.get());
          if (video_steps) {
            auto more = prepare_video(ctx, files[i]);
            out.insert(out.end(), more.begin(), more.end());
          }
        },
        summary);
  }

  if (s.generate_training_json && !summary.interrupted) {
    auto outcomes = write_training_json(p);
    summary.outcomes.insert(summary.outcomes.end(), outcomes.begin(), outcomes.end());
  }

  summary.frames = ctx.frames;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto add_usage = [&](bool used, const fs::path& path) {
    std::error_code ec;
    if (used && fs::exists(path, ec)) summary.disk_usage.emplace_back(path, disk_usage(path));
  };
  add_usage(s.split_hdtf || s.resample_25fps, p.source_video_dir);
  add_usage(s.detect_landmarks, p.openface_landmark_dir);
  add_usage(s.extract_video_frame, p.video_frame_dir);
  add_usage(s.extract_audio, p.audio_dir);
  add_usage(s.extract_audio_feature, p.deep_speech_dir);
  add_usage(s.crop_face, p.crop_face_dir);
  add_usage(s.generate_training_json, p.json_path);
  return summary;
}

}  // namespace dinet
