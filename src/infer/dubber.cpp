// Dubber: one video from files to the muxed result, every input checked before the long
// work starts, and nothing left at the output path when anything fails.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "dinet/cpu.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/infer.h"
#include "dinet/progress.h"
#include "dinet/runtime.h"
#include "infer/generator.h"
#include "infer/model.h"
#include "infer/pipeline.h"
#include "infer/references.h"
#include "infer/source_frames.h"
#include "infer/video_faces.h"

namespace dinet {
namespace fs = std::filesystem;

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  if (name == "fp16") return Precision::fp16;
  if (name == "int8") return Precision::int8;
  throw Error("precision " + name + ": expected fp32, bf16, fp16 or int8");
}

Precision automatic_precision(const std::string& device) {
  return device == "cpu" && cpu_has_native_bf16() ? Precision::bf16 : Precision::fp32;
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::bf16:
      return "bf16";
    case Precision::fp16:
      return "fp16";
    case Precision::int8:
      return "int8";
    case Precision::fp32:
      break;
  }
  return "fp32";
}

fs::path published_result_path(const fs::path& res_video_dir, const fs::path& source_video) {
  return res_video_dir / (source_video.stem().string() + "_facial_dubbing_add_audio.mp4");
}

struct Dubber::Impl {
  InferOptions options;
  infer::LoadedModel model;
  std::unique_ptr<infer::FeatureSource> features;
  std::unique_ptr<infer::Generator> generator;
  std::unique_ptr<LandmarkModel> detector;  // loaded when a video has no landmark CSV
};

Dubber::Dubber(const InferOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  if (options.batch_size < 1) throw Error("--batch_size must be at least 1");
  set_threads(options.threads);
  impl_->model = infer::load_model(options.model_path, options.mouth_region_size);
  if (options.audio_channel > 0 && options.audio_channel != impl_->model.feature.channels)
    throw Error(options.model_path.string(), "takes " + std::to_string(impl_->model.feature.channels) +
                                                 " audio channels, not the " + std::to_string(options.audio_channel) +
                                                 " of --audio_channel");
  impl_->features = std::make_unique<infer::FeatureSource>(options, impl_->model, options.model_path);
  impl_->generator = std::make_unique<infer::Generator>(impl_->model.net, options.device, options.precision);
}

Dubber::~Dubber() = default;

int Dubber::mouth_region_size() const { return impl_->model.mouth_region_size; }

std::string Dubber::describe() const {
  std::ostringstream s;
  s << "mouth " << impl_->model.mouth_region_size << ", " << impl_->features->describe() << ", "
    << impl_->options.device << " " << to_string(impl_->options.precision) << ", batch "
    << impl_->options.batch_size;
  return s.str();
}

DubResult Dubber::dub(const DubJob& job) {
  const auto start = std::chrono::steady_clock::now();
  const InferOptions& o = impl_->options;
  if (job.output.empty()) throw Error("no output path given");
  require_file(job.source_video, "source video");
  require_file(job.driving_audio, "driving audio");
  // The quick checks first: features (audio errors), then the faces (the long detection).
  const at::Tensor features = impl_->features->features(job.driving_audio, o.audio_feature_path);
  const Audio sound = load_audio(job.driving_audio, o.audio_sample_rate);
  if (sound.samples.empty()) throw Error(job.driving_audio.string(), "the audio is empty (zero length)");
  if (!o.audio_feature_path.empty()) {
    // Ready features of some other audio would give a result whose lips and sound disagree.
    const int64_t expected = feature_frame_count(std::llround(sound.duration_s() * 16000));
    if (std::llabs(features.size(0) - expected) > 2)
      throw Error(o.audio_feature_path.string(),
                  "has " + std::to_string(features.size(0)) + " rows, but the driving audio " +
                      job.driving_audio.filename().string() + " needs " + std::to_string(expected) +
                      " (25 per second)");
  }

  infer::FaceOptions face_options;
  face_options.csv = job.landmark_csv;
  face_options.windows.segment_radius = o.segment_radius;
  face_options.windows.integer_positions = !o.segment_radius;
  face_options.smooth_csv = o.smooth_landmarks;
  face_options.show_progress = o.show_progress;
  const infer::VideoFaces faces = infer::video_faces(job.source_video, face_options, o.landmark_model, impl_->detector);

  DubResult result;
  result.output = job.output;
  result.frames = features.size(0);
  result.source_frames = faces.frames();
  const FaceSize face = face_size(impl_->model.mouth_region_size);
  result.reference_frames = infer::choose_reference_frames(
      faces.track, faces.windows, faces.frame_size, std::min(result.frames, result.source_frames), o.seed);
  if (result.reference_frames.empty())
    throw Error(job.source_video.string(), "no face in the frames the result uses");
  impl_->generator->set_reference(
      infer::reference_faces(job.source_video, result.reference_frames, faces.windows, face));

  const fs::path dir = job.output.parent_path().empty() ? fs::path(".") : job.output.parent_path();
  const bool made_dir = !fs::exists(dir);
  try {
    fs::create_directories(dir);
    remove_dead_temporaries(dir);  // an earlier dub killed here left its temporaries
    infer::SourceFrames frames(job.source_video, faces.frames(), result.frames, dir);
    VideoWriterOptions video = o.video;
    video.comment = dub_provenance();
    VideoWriter writer(job.output, faces.frame_size.width, faces.frame_size.height, video, &sound);
    std::unique_ptr<Progress> progress;
    if (o.show_progress)
      progress = std::make_unique<Progress>(
          job.label.empty() ? "dubbing " + job.source_video.filename().string() : job.label, result.frames, "frames");
    infer::PipelineInput input;
    input.frames = &frames;
    input.source_frames = faces.frames();
    input.windows = &faces.windows;
    input.landmarks = &faces.track;
    input.features = features;
    input.face = face;
    input.batch_size = o.batch_size;
    input.paste = o.paste;
    const infer::PipelineStats stats = infer::run_pipeline(input, *impl_->generator, writer, progress.get());
    writer.finish();
    if (progress) progress->finish();
    result.frames_without_face = stats.frames_without_face;
  } catch (...) {
    std::error_code ec;
    if (made_dir && fs::is_empty(dir, ec)) fs::remove(dir, ec);
    throw;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace dinet
