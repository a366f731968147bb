// dinet prepare: the published data-processing steps in one resumable, parallel command.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "commands.h"
#include "dinet/interrupt.h"
#include "dinet/prepare.h"
#include "dinet/runtime.h"

namespace dinet::cli {
namespace {

struct PrepareOptions {
  PrepareSteps steps;
  bool all = false, force = false, quiet = false;
  std::string root = "./asserts";
  // Empty: the published default under --root.
  std::string hdtf_video_dir, hdtf_annotation_dir, raw_video_dir, source_video_dir,
      openface_landmark_dir, video_frame_dir, audio_dir, deep_speech_dir, crop_face_dir, json_path,
      deep_speech_model;
  int clip_length = 9, jpeg_quality = 90, hdtf_size = 512, jobs = 0, threads = 0;
  std::string audio_feature = "deepspeech", image_format = "jpg";
  std::string deepspeech_precision = "fp32";
  uint64_t seed = 0;
};

int run(const PrepareOptions& o) {
  PrepareParams p = default_prepare_params(o.root);
  auto set = [](std::filesystem::path& target, const std::string& value) {
    if (!value.empty()) target = value;
  };
  set(p.hdtf_video_dir, o.hdtf_video_dir);
  set(p.hdtf_annotation_dir, o.hdtf_annotation_dir);
  set(p.raw_video_dir, o.raw_video_dir);
  set(p.source_video_dir, o.source_video_dir);
  set(p.openface_landmark_dir, o.openface_landmark_dir);
  set(p.video_frame_dir, o.video_frame_dir);
  set(p.audio_dir, o.audio_dir);
  set(p.deep_speech_dir, o.deep_speech_dir);
  set(p.crop_face_dir, o.crop_face_dir);
  set(p.json_path, o.json_path);
  set(p.deep_speech_model, o.deep_speech_model);
  p.steps = o.steps;
  p.all = o.all;
  p.force = o.force;
  p.clip_length = o.clip_length;
  p.deepspeech_precision = o.deepspeech_precision;
  p.audio_feature = o.audio_feature;
  p.image_format = o.image_format;
  p.jpeg_quality = o.jpeg_quality;
  p.hdtf_size = o.hdtf_size;
  p.seed = o.seed;
  p.jobs =
      o.jobs > 0 ? o.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  p.show_progress = !o.quiet;
  p.cancel = &interrupt_flag();
  // Videos already run in parallel; threads inside each job would only compete for cores.
  set_threads(o.threads > 0
                  ? o.threads
                  : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / p.jobs));

  const InterruptScope interrupts("dinet prepare");
  const PrepareSummary summary = run_prepare(p);
  std::printf("%s", format_summary(summary).c_str());
  std::fflush(stdout);
  if (summary.interrupted) return 128 + interrupt_signal();
  return summary.failed_videos().empty() ? 0 : 1;
}

}  // namespace

void setup_prepare(CLI::App& app) {
  auto o = std::make_shared<PrepareOptions>();
  auto* verb = app.add_subcommand(
      "prepare",
      "Prepare training data as the published data_processing.py does, in one resumable, "
      "parallel run: split HDTF videos, convert to 25 fps, detect landmarks, extract audio and "
      "audio features, crop faces into 9-frame clips, write training_json.json. A re-run skips "
      "what is done; files not written by dinet prepare (your OpenFace CSVs, features) are never "
      "overwritten.");
  auto flag = [&](const char* name, bool& target, const char* help) {
    verb->add_flag(name, target, help);
  };
  flag("--split_hdtf", o->steps.split_hdtf,
       "Cut the raw HDTF videos of --hdtf_video_dir by the *_annotion_time.txt files of "
       "--hdtf_annotation_dir into <video>_<clip index>.mp4 at 25 fps (cropped and resized to "
       "--hdtf_size where *_crop_wh.txt gives the face window)");
  flag("--resample_25fps", o->steps.resample_25fps,
       "Write 25 fps copies of the videos in --raw_video_dir into --source_video_dir (videos "
       "already at 25 fps are copied unchanged)");
  flag("--detect_landmarks", o->steps.detect_landmarks,
       "Detect 68 landmarks (dlib) and write <video>.csv in OpenFace format into "
       "--openface_landmark_dir, for videos that have no CSV yet");
  flag("--extract_video_frame", o->steps.extract_video_frame,
       "Write every full frame as <video_frame_dir>/<video>/<frame>.jpg (published step 1; "
       "not needed by the other steps, not part of --all)");
  flag("--extract_audio", o->steps.extract_audio,
       "Write <audio_dir>/<video>.wav, 16 kHz mono 16-bit");
  flag("--extract_deep_speech", o->steps.extract_audio_feature,
       "Compute the audio feature (--audio_feature) of every source video's audio, one row "
       "per frame (25 per second): <video>_deepspeech.txt (published) or <video>_mel.npy in "
       "--deep_speech_dir");
  flag("--crop_face", o->steps.crop_face,
       "Crop the face of every frame at its native size into 9-frame clips: "
       "<crop_face_dir>/<video>/<clip, 6 digits>/<frame, 6 digits>.jpg");
  flag("--generate_training_json", o->steps.generate_training_json,
       "Write --json_path in the published structure from the crops and features");
  flag("--all", o->all,
       "Every step in order except --extract_video_frame; --split_hdtf and --resample_25fps "
       "only when their input folders exist");
  flag("--force", o->force,
       "Redo steps already done (files not written by dinet prepare are still kept)");
  flag("--quiet", o->quiet, "No progress bar");

  verb->add_option("--root", o->root,
                   "Folder that holds training_data/ and output_graph.pb (the published ./asserts)")
      ->capture_default_str();
  auto dir = [&](const char* name, std::string& target, const std::string& help, const char* def) {
    verb->add_option(name, target, help + " (default: <root>/" + def + ")");
  };
  dir("--hdtf_video_dir", o->hdtf_video_dir, "Raw HDTF videos, named as in the annotation files",
      "training_data/HDTF_video");
  dir("--hdtf_annotation_dir", o->hdtf_annotation_dir,
      "HDTF's *_annotion_time.txt and *_crop_wh.txt files", "training_data/HDTF_dataset");
  dir("--raw_video_dir", o->raw_video_dir, "Videos at any frame rate, for --resample_25fps",
      "training_data/split_video");
  dir("--source_video_dir", o->source_video_dir, "Source videos at 25 fps",
      "training_data/split_video_25fps");
  dir("--openface_landmark_dir", o->openface_landmark_dir, "Landmark CSVs (OpenFace format)",
      "training_data/split_video_25fps_landmark_openface");
  dir("--video_frame_dir", o->video_frame_dir, "Full frames",
      "training_data/split_video_25fps_frame");
  dir("--audio_dir", o->audio_dir, "Extracted wav files", "training_data/split_video_25fps_audio");
  dir("--deep_speech_dir", o->deep_speech_dir, "Audio feature files",
      "training_data/split_video_25fps_deepspeech");
  dir("--crop_face_dir", o->crop_face_dir, "Face crops",
      "training_data/split_video_25fps_crop_face");
  dir("--json_path", o->json_path, "Training json", "training_data/training_json.json");
  dir("--deep_speech_model", o->deep_speech_model, "DeepSpeech v0.1.0 graph", "output_graph.pb");

  verb->add_option("--clip_length", o->clip_length, "Frames per training clip")
      ->capture_default_str();
  verb->add_option("--audio_feature", o->audio_feature,
                   "deepspeech (29 DeepSpeech v0.1.0 logits per frame, needs --deep_speech_model) "
                   "or mel (built in, no model)")
      ->capture_default_str()
      ->check(CLI::IsMember({"deepspeech", "mel"}));
  verb->add_option("--deepspeech_precision", o->deepspeech_precision,
                   "DeepSpeech LSTM weights: fp32 (the published features), bf16 (half the "
                   "LSTM's memory traffic, about a third less time; the features move by about "
                   "3e-4 of their range) or int8 (a quarter of the "
                   "traffic, the weights stay in the cache: about 0.6 of bf16's time; the features "
                   "move by about 1.5e-3 of their range)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  verb->add_option("--image_format", o->image_format, "Crop image format: jpg or png")
      ->capture_default_str()
      ->check(CLI::IsMember({"jpg", "png"}));
  verb->add_option("--jpeg_quality", o->jpeg_quality, "JPEG quality of crops and frames, 0..100")
      ->capture_default_str();
  verb->add_option("--hdtf_size", o->hdtf_size, "Side in pixels of the square HDTF face clips")
      ->capture_default_str();
  verb->add_option(
          "--seed", o->seed,
          "Seed of the random crop scale per clip (uniform in [1.05, 1.15), as published); "
          "the same seed gives the same crops")
      ->capture_default_str();
  verb->add_option("--jobs", o->jobs,
                   "Videos processed in parallel (default: every core, here " +
                       std::to_string(std::thread::hardware_concurrency()) + ")");
  verb->add_option("--threads", o->threads,
                   "CPU threads for LibTorch and OpenCV inside each job (default: cores / --jobs)");
  verb->callback([o] {
    const int code = run(*o);
    if (code != 0) std::exit(code);
  });
}

}  // namespace dinet::cli
