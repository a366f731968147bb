// --extract_audio and --extract_deep_speech for one source video. Both read the video's own
// audio stream: the wav is a 16 kHz mono mix (the published ffmpeg call kept the channels);
// the feature is computed as the audio feature extractor does for any media file, so
// DeepSpeech reads channel 0 as the published deep_speech.py does from its stereo wav, and
// the feature does not depend on --extract_audio having run.
#include "dinet/error.h"
#include "dinet/media.h"
#include "prepare_steps.h"

namespace dinet::prepare {
namespace {

constexpr int kSampleRate = 16000;

nlohmann::json wav_settings() { return {{"sample_rate", kSampleRate}, {"channels", "mono mix"}}; }

nlohmann::json feature_settings(const PrepareParams& p) {
  nlohmann::json s{{"feature", p.audio_feature}};
  if (p.audio_feature == "deepspeech") {
    std::error_code ec;
    const auto bytes = fs::file_size(p.deep_speech_model, ec);
    s["model_bytes"] = ec ? 0 : bytes;
  }
  return s;
}

// Runs one single-file step: plan, clean what an interrupted run left, write, mark.
StepOutcome file_step(const PrepareParams& p, const std::string& step, const std::string& video,
                      const fs::path& output, const nlohmann::json& settings,
                      const std::function<void()>& write) {
  StepMarker marker(output.parent_path(), step);
  const Plan plan = plan_step(marker, video, settings, output, p.force);
  if (plan != Plan::run) return skipped(step, video, plan, output);
  return guarded(step, video, [&] {
    // A failure leaves the "started" marker: an older file here is still ours to replace.
    marker.begin(video);
    clean_partial(output.parent_path(), output.stem().string(), false);
    write();
    marker.finish(video, settings);
    StepOutcome done;
    done.step = step;
    done.video = video;
    return done;
  });
}

}  // namespace

bool feature_needed(const PrepareParams& p, const fs::path& file) {
  const std::string video = video_name(file);
  const fs::path output = feature_path(p, video);
  return plan_step(StepMarker(output.parent_path(), "extract_deep_speech"), video,
                   feature_settings(p), output, p.force) == Plan::run;
}

std::vector<StepOutcome> prepare_audio(RunContext& ctx, const fs::path& file,
                                       const AudioFeatureExtractor* features) {
  const PrepareParams& p = ctx.params;
  const std::string video = video_name(file);
  std::vector<StepOutcome> outcomes;
  if (p.steps.extract_audio) {
    const fs::path wav = p.audio_dir / (video + ".wav");
    outcomes.push_back(file_step(p, "extract_audio", video, wav, wav_settings(), [&] {
      ctx.check_cancel();
      write_wav(wav, load_audio(file, kSampleRate));
    }));
  }
  if (p.steps.extract_audio_feature) {
    const fs::path output = feature_path(p, video);
    outcomes.push_back(file_step(p, "extract_deep_speech", video, output, feature_settings(p), [&] {
      ctx.check_cancel();
      if (!features) throw Error(output.string(), "no audio feature extractor loaded");
      write_feature_file(output, features->compute(file));
    }));
  }
  return outcomes;
}

}  // namespace dinet::prepare
