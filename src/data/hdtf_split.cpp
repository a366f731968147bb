// --split_hdtf: HDTF's own processing steps 2 and 3 (its README): cut each raw video into
// the talking-head clips listed in `<subset>_annotion_time.txt` (HDTF's spelling), named
// `<video>_<clip index>.mp4` as HDTF names them ("Radio11_0.mp4"), and, where
// `<subset>_crop_wh.txt` gives the face window of a clip, crop it and resize it to a square
// (512 x 512 as HDTF's clips). Clips are written at 25 fps with their audio, so the
// resample step is not needed for them.
#include <opencv2/imgproc.hpp>

#include <cmath>

#include "dinet/error.h"
#include "dinet/media.h"
#include "prepare_steps.h"

namespace dinet::prepare {
namespace {

constexpr double kFps = 25.0;
constexpr int kAudioRate = 44100;  // kept high: the clips are videos, not training features

}  // namespace

StepOutcome split_hdtf_video(RunContext& ctx, const HdtfVideo& video) {
  const PrepareParams& p = ctx.params;
  const std::string step = "split_hdtf";
  StepOutcome outcome;
  outcome.step = step;
  outcome.video = video.name;
  if (video.file.empty()) {
    outcome.status = StepStatus::skipped;
    outcome.reason = "raw video " + video.name + ".mp4 not found in " + p.hdtf_video_dir.string();
    return outcome;
  }
  nlohmann::json settings{{"intervals", video.intervals}, {"size", p.hdtf_size}};
  for (const auto& crop : video.crops)
    settings["crops"].push_back(crop ? nlohmann::json(*crop) : nlohmann::json());
  auto clip_path = [&](size_t i) {
    return p.source_video_dir / (video.name + "_" + std::to_string(i) + ".mp4");
  };
  StepMarker marker(p.source_video_dir, step);
  const bool ours = marker.exists(video.name) || marker.started(video.name);
  bool all_present = true;
  for (size_t i = 0; i < video.intervals.size(); ++i) all_present &= fs::exists(clip_path(i));
  if (all_present && !ours) return skipped(step, video.name, Plan::skip_foreign, clip_path(0));
  if (all_present && !p.force && marker.matches(video.name, settings))
    return skipped(step, video.name, Plan::skip_done, clip_path(0));

  marker.begin(video.name);
  VideoReader reader(video.file, kFps);
  const VideoInfo& info = reader.info();
  Audio audio;
  if (info.has_audio) audio = load_audio(video.file, kAudioRate);
  std::vector<std::string> notes;
  cv::Mat frame, out;
  int64_t index = 0;  // next frame the reader returns
  bool ended = false;
  size_t kept = 0;
  for (size_t clip = 0; clip < video.intervals.size() && !ended; ++clip) {
    if (!ours && fs::exists(clip_path(clip))) {
      notes.push_back("kept " + clip_path(clip).string() + " (not written by dinet prepare)");
      ++kept;
      continue;  // the next clip's seek skips its frames
    }
    const int64_t first = std::llround(video.intervals[clip].first * kFps);
    const int64_t last = std::llround(video.intervals[clip].second * kFps);
    for (; index < first; ++index, ctx.add_frames(1)) {
      ctx.check_cancel();
      if (!reader.read(frame)) {
        ended = true;
        break;
      }
    }
    if (ended) break;
    cv::Rect window(0, 0, info.width, info.height);
    if (const auto& crop = video.crops[clip]) {
      window = cv::Rect((*crop)[0], (*crop)[2], (*crop)[1], (*crop)[3]) & window;
      if (window.empty())
        throw Error(video.file.string(),
                    "crop of clip " + std::to_string(clip) + " lies outside the frame");
    }
    const bool resize = video.crops[clip].has_value();
    const cv::Size size = resize ? cv::Size(p.hdtf_size, p.hdtf_size) : window.size();
    Audio segment;
    const Audio* segment_audio = nullptr;
    if (!audio.samples.empty()) {
      segment.sample_rate = audio.sample_rate;
      const auto from = std::min(audio.samples.size(), size_t(first * audio.sample_rate / kFps));
      const auto to = std::min(audio.samples.size(), size_t(last * audio.sample_rate / kFps));
      segment.samples.assign(audio.samples.begin() + from, audio.samples.begin() + to);
      segment_audio = &segment;
    }
    // Clips of an earlier, interrupted run are complete files (written atomically) but
    // are redone: their marker is missing, so nothing says they used these settings.
    VideoWriter writer(clip_path(clip), size.width, size.height, {}, segment_audio);
    int64_t written = 0;
    for (; index < last; ++index, ctx.add_frames(1)) {
      ctx.check_cancel();
      if (!reader.read(frame)) {
        ended = true;
        break;
      }
      if (resize)
        cv::resize(frame(window), out, size, 0, 0, cv::INTER_AREA);
      else
        out = frame;
      writer.write(out);
      ++written;
    }
    if (written == 0) break;  // the writer is dropped unfinished: no empty clip appears
    writer.finish();
    outcome.clips++;
    if (written < last - first)
      notes.push_back("clip " + std::to_string(clip) + " cut short at the end of the video");
  }
  outcome.frames = index;
  if (const size_t missing = video.intervals.size() - kept - size_t(outcome.clips))
    notes.push_back(std::to_string(missing) + " clips start after the video ends");
  marker.finish(video.name, settings);
  for (const auto& note : notes) outcome.reason += (outcome.reason.empty() ? "" : "; ") + note;
  return outcome;
}

}  // namespace dinet::prepare
