// The one decoding pass of a source video: full frames (--extract_video_frame), landmarks
// (--detect_landmarks, where no CSV exists) and face clips (--crop_face), each only when
// requested and not done. Landmarks and crops stream: a frame is tracked as it is decoded and
// cropped as soon as its clip's landmarks are final, so memory holds a few dozen frames and
// nothing but the outputs reaches the disk.
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>

#include "dinet/error.h"
#include "dinet/face.h"
#include "dinet/media.h"
#include "prepare_crop.h"
#include "prepare_steps.h"

namespace dinet::prepare {
namespace {

struct VideoPlan {
  VideoPlan(const PrepareParams& p, std::string name)
      : video(std::move(name)),
        csv(p.openface_landmark_dir / (video + ".csv")),
        frame_dir(p.video_frame_dir / video),
        crop_dir(p.crop_face_dir / video),
        frames_marker(p.video_frame_dir, "extract_video_frame"),
        landmarks_marker(p.openface_landmark_dir, "detect_landmarks"),
        crop_marker(p.crop_face_dir, "crop_face") {}
  std::string video;
  fs::path csv, frame_dir, crop_dir;
  StepMarker frames_marker, landmarks_marker, crop_marker;
  Plan frames = Plan::skip_done, landmarks = Plan::skip_done, crop = Plan::skip_done;
  bool requested_frames = false, requested_landmarks = false, requested_crop = false;
  nlohmann::json frames_settings, landmarks_settings;
  bool any_run() const {
    return frames == Plan::run || landmarks == Plan::run || crop == Plan::run;
  }
};

nlohmann::json image_settings(const PrepareParams& p, const std::string& format) {
  nlohmann::json s{{"format", format}};
  if (format == "jpg") s["jpeg_quality"] = p.jpeg_quality;
  return s;
}

// Crops depend on the landmarks they were cut from: a new CSV means new crops.
nlohmann::json crop_settings(const PrepareParams& p, const fs::path& csv) {
  nlohmann::json s = image_settings(p, p.image_format);
  s["clip_length"] = p.clip_length;
  s["seed"] = p.seed;
  std::error_code ec;
  const auto size = fs::file_size(csv, ec);
  const auto time = fs::last_write_time(csv, ec);
  s["landmarks"] = {{"bytes", ec ? 0 : size},
                    {"modified", ec ? 0 : time.time_since_epoch().count()}};
  return s;
}

VideoPlan make_plan(const PrepareParams& p, const fs::path& file) {
  const std::string video = video_name(file);
  VideoPlan plan(p, video);
  const PrepareSteps& s = p.steps;
  plan.frames_settings = image_settings(p, "jpg");
  plan.landmarks_settings = {{"landmarks", "dlib 68, tracked, gaps filled, smoothed"}};
  if ((plan.requested_frames = s.extract_video_frame))
    plan.frames =
        plan_step(plan.frames_marker, video, plan.frames_settings, plan.frame_dir, p.force);
  if ((plan.requested_landmarks = s.detect_landmarks))
    plan.landmarks =
        plan_step(plan.landmarks_marker, video, plan.landmarks_settings, plan.csv, p.force);
  if ((plan.requested_crop = s.crop_face)) {
    plan.crop =
        plan_step(plan.crop_marker, video, crop_settings(p, plan.csv), plan.crop_dir, p.force);
    if (plan.landmarks == Plan::run && plan.crop == Plan::skip_done) plan.crop = Plan::run;
  }
  return plan;
}

void write_frame(const fs::path& dir, int64_t index, const cv::Mat& frame, int quality) {
  char name[32];
  std::snprintf(name, sizeof name, "%06lld.jpg", static_cast<long long>(index));
  if (!cv::imwrite((dir / name).string(), frame, {cv::IMWRITE_JPEG_QUALITY, quality}))
    throw Error((dir / name).string(), "cannot write the frame");
}

StepOutcome outcome_of(const std::string& step, const std::string& video) {
  StepOutcome o;
  o.step = step;
  o.video = video;
  return o;
}

void add_note(StepOutcome& o, const std::string& note) {
  o.reason += (o.reason.empty() ? "" : "; ") + note;
}

// The pass itself; the caller turns an exception into failed outcomes and cleans up.
std::vector<StepOutcome> run_pass(RunContext& ctx, const fs::path& file, VideoPlan& plan) {
  const PrepareParams& p = ctx.params;
  const bool frames = plan.frames == Plan::run, track = plan.landmarks == Plan::run,
             crop = plan.crop == Plan::run;
  StreamLandmarks landmarks = StreamLandmarks::tracked(p.clip_length);
  int64_t csv_rows = -1;
  if (crop && !track) {
    std::error_code ec;
    if (!fs::exists(plan.csv, ec))
      throw Error(plan.csv.string(),
                  "no landmarks for the crops (add --detect_landmarks, or give "
                  "an OpenFace CSV)");
    landmarks = StreamLandmarks::given(read_openface_csv(plan.csv));
    csv_rows = landmarks.known();
  }
  VideoReader reader(file);
  if (csv_rows >= 0 && std::abs(reader.info().frame_count - csv_rows) > 2)
    throw Error(plan.csv.string(), std::to_string(csv_rows) +
                                       " landmark rows for a video of about " +
                                       std::to_string(reader.info().frame_count) + " frames");
  std::optional<FaceTracker> tracker;
  if (track) tracker.emplace(ctx.landmark_model());
  if (frames) fs::create_directories(plan.frame_dir);
  if (crop) fs::create_directories(plan.crop_dir);
  ClipWriter clips(plan.crop_dir, p.clip_length, video_seed(p.seed, plan.video), p.image_format,
                   p.jpeg_quality);

  int64_t n = 0, found = 0;
  for (cv::Mat frame;; ++n) {
    ctx.check_cancel();
    frame = cv::Mat();  // a fresh buffer: the clip writer may still hold the last one
    if (!reader.read(frame)) break;
    if (frames) write_frame(plan.frame_dir, n, frame, p.jpeg_quality);
    if (track) {
      const auto face = tracker->track(frame);
      found += face.has_value();
      landmarks.add(face ? &face->landmarks : nullptr, face ? face->confidence : 0.0f,
                    face && face->cut);
    }
    if (crop) {
      clips.push(n, frame);
      // Published: clip end indices range(L, frame_length, L), frame_length = min(frames, rows).
      clips.write_ready(landmarks, csv_rows >= 0 ? std::min(n + 1, csv_rows) : n + 1);
    }
    ctx.add_frames(1);
  }
  if (n == 0) throw Error(file.string(), "no video frames");
  if (csv_rows >= 0 && std::abs(n - csv_rows) > 1)
    throw Error(plan.csv.string(), std::to_string(csv_rows) + " landmark rows for a video of " +
                                       std::to_string(n) + " frames");
  landmarks.finish();
  if (crop) clips.write_ready(landmarks, csv_rows >= 0 ? std::min(n, csv_rows) : n);

  std::vector<StepOutcome> outcomes;
  if (frames) {
    auto o = outcome_of("extract_video_frame", plan.video);
    o.frames = n;
    plan.frames_marker.finish(plan.video, plan.frames_settings);
    outcomes.push_back(o);
  }
  if (track) {
    auto o = outcome_of("detect_landmarks", plan.video);
    int64_t filled = 0;
    write_openface_csv(plan.csv, landmarks.whole(&filled));
    o.frames = n;
    if (found < n)
      add_note(o, "face found in " + std::to_string(found) + " of " + std::to_string(n) +
                      " frames, " + std::to_string(filled) + " filled between neighbours");
    plan.landmarks_marker.finish(plan.video, plan.landmarks_settings);
    outcomes.push_back(o);
  }
  if (crop) {
    auto o = outcome_of("crop_face", plan.video);
    const CropStats& stats = clips.stats();
    o.frames = n;
    o.clips = stats.clips;
    o.clips_rejected = stats.rejected;
    if (csv_rows >= 0 && n != csv_rows)
      add_note(o, std::to_string(n) + " frames, " + std::to_string(csv_rows) + " landmark rows");
    if (stats.no_face)
      add_note(o, std::to_string(stats.no_face) + " clips without a face left out");
    if (stats.cut) add_note(o, std::to_string(stats.cut) + " clips across a cut left out");
    if (stats.rejected)
      add_note(o, std::to_string(stats.rejected) + " clips left out: face size changed over 1.5x");
    // Written after the CSV, so the settings name the landmarks these crops came from.
    plan.crop_marker.finish(plan.video, crop_settings(p, plan.csv));
    outcomes.push_back(o);
  }
  return outcomes;
}

}  // namespace

bool video_pass_needed(const PrepareParams& params, const fs::path& file) {
  return make_plan(params, file).any_run();
}

std::vector<StepOutcome> prepare_video(RunContext& ctx, const fs::path& file) {
  const PrepareParams& p = ctx.params;
  VideoPlan plan = make_plan(p, file);
  std::vector<StepOutcome> outcomes;
  if (plan.requested_frames && plan.frames != Plan::run)
    outcomes.push_back(skipped("extract_video_frame", plan.video, plan.frames, plan.frame_dir));
  if (plan.requested_landmarks && plan.landmarks != Plan::run)
    outcomes.push_back(skipped("detect_landmarks", plan.video, plan.landmarks, plan.csv));
  if (plan.requested_crop && plan.crop != Plan::run)
    outcomes.push_back(skipped("crop_face", plan.video, plan.crop, plan.crop_dir));
  if (!plan.any_run()) return outcomes;

  // Whatever an interrupted run left goes first; the started markers make sure a crash from
  // here on is cleaned the same way next time.
  struct Running {
    bool run;
    const StepMarker& marker;
    fs::path dir;
    bool folder;
    std::string step;
  };
  const std::vector<Running> running{
      {plan.frames == Plan::run, plan.frames_marker, p.video_frame_dir, true,
       "extract_video_frame"},
      {plan.landmarks == Plan::run, plan.landmarks_marker, p.openface_landmark_dir, false,
       "detect_landmarks"},
      {plan.crop == Plan::run, plan.crop_marker, p.crop_face_dir, true, "crop_face"}};
  for (const auto& r : running)
    if (r.run) {
      r.marker.begin(plan.video);
      clean_partial(r.dir, plan.video, r.folder);
    }
  try {
    auto done = run_pass(ctx, file, plan);
    outcomes.insert(outcomes.end(), done.begin(), done.end());
  } catch (const std::exception& e) {
    // Nothing half-made stays behind. A folder goes with its marker; a file (the CSV) is
    // only ever replaced whole, and its "started" marker stays to say an older one is ours.
    for (const auto& r : running)
      if (r.run) {
        clean_partial(r.dir, plan.video, r.folder);
        if (r.folder) r.marker.remove(plan.video);
      }
    if (dynamic_cast<const Interrupted*>(&e)) throw;
    std::string reason = e.what();
    for (const auto& r : running)
      if (r.run) {
        auto o = outcome_of(r.step, plan.video);
        o.status = StepStatus::failed;
        o.reason = reason.substr(0, reason.find('\n'));
        outcomes.push_back(o);
      }
  }
  return outcomes;
}

}  // namespace dinet::prepare
