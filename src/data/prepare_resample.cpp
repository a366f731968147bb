// --resample_25fps: the published workflow needs 25 fps videos and leaves the conversion to
// the user. A raw video already at 25 fps is copied byte for byte (no generation loss);
// any other rate, variable rates included, is decoded by timestamps at 25 fps and encoded
// again with its audio.
#include <cmath>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/media.h"
#include "prepare_steps.h"

namespace dinet::prepare {
namespace {
constexpr double kFps = 25.0;
constexpr int kAudioRate = 44100;
}  // namespace

StepOutcome resample_video(RunContext& ctx, const fs::path& file) {
  const PrepareParams& p = ctx.params;
  const std::string step = "resample_25fps", video = video_name(file);
  const fs::path output = p.source_video_dir / (video + ".mp4");
  const nlohmann::json settings{{"fps", kFps}};
  StepMarker marker(p.source_video_dir, step);
  const Plan plan = plan_step(marker, video, settings, output, p.force);
  if (plan != Plan::run) return skipped(step, video, plan, output);

  marker.begin(video);
  StepOutcome outcome;
  outcome.step = step;
  outcome.video = video;
  VideoReader reader(file, kFps);
  const VideoInfo& info = reader.info();
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
  if (std::abs(info.source_fps - kFps) < 1e-3 && extension == ".mp4" &&
      info.rotation_degrees == 0) {
    AtomicFile copy(output);
    fs::copy_file(file, copy.temp_path(), fs::copy_options::overwrite_existing);
    copy.commit();
    outcome.reason = "already 25 fps: copied";
    outcome.frames = info.frame_count;
    ctx.add_frames(info.frame_count);
  } else {
    Audio audio;
    if (info.has_audio) audio = load_audio(file, kAudioRate);
    VideoWriter writer(output, info.width, info.height, {}, info.has_audio ? &audio : nullptr);
    cv::Mat frame;
    while (reader.read(frame)) {
      ctx.check_cancel();
      writer.write(frame);
      ctx.add_frames(1);
      ++outcome.frames;
    }
    if (outcome.frames == 0) throw Error(file.string(), "no video frames");
    writer.finish();
    char note[64];
    std::snprintf(note, sizeof note, "%.3g fps -> 25 fps", info.source_fps);
    outcome.reason = note;
  }
  marker.finish(video, settings);
  return outcome;
}

}  // namespace dinet::prepare
