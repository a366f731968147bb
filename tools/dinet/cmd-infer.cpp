// dinet infer: dub one video (the published inference.py) or the first videos of the test set
// (the published fork's run_inference.py --process_num x).
#include <cstdio>

#include "commands.h"
#include "dinet/error.h"
#include "dinet/infer.h"
#include "dinet/interrupt.h"

namespace dinet::cli {
namespace {

struct InferCliOptions {
  InferOptions infer;
  std::string source_video, driving_audio, landmark_csv;
  std::string res_video_dir = "./asserts/inference_result";
  std::string precision = "auto", paste = "lower_face", crop_radius = "segment";
  bool quiet = false;
  // The published script's channel options: the checkpoint decides; given, they must agree.
  int source_channel = 3, ref_channel = 15;
  // Test set.
  int process_num = 0;
  std::string root = "./asserts", audio_path;
};

void print_result(const DubResult& r) {
  std::printf("%s: %lld frames (%lld source frames, %lld without a face) in %.1f s, %.2f frames/s\n",
              r.output.string().c_str(), static_cast<long long>(r.frames), static_cast<long long>(r.source_frames),
              static_cast<long long>(r.frames_without_face), r.seconds, r.fps());
}

void run_infer(InferCliOptions& o) {
  if (o.source_channel != 3 || o.ref_channel != 15)
    throw Error("--source_channel/--ref_channel: the DINet generator takes 3 and 15 (5 RGB references)");
  InferOptions& infer = o.infer;
  infer.precision = o.precision == "auto" ? automatic_precision(infer.device) : parse_precision(o.precision);
  infer.paste = parse_paste_mode(o.paste);
  infer.segment_radius = o.crop_radius == "segment";
  infer.show_progress = !o.quiet;
  // Ctrl-C (or `dinet serve` cancelling a job with SIGTERM) stops at the next batch of frames;
  // the unfinished result and the spilled frames are removed, finished test-set videos stay.
  const InterruptScope interrupts("dinet infer");

  if (o.process_num > 0) {
    TestSetOptions set;
    set.infer = infer;
    set.root = o.root;
    set.process_num = o.process_num;
    set.audio_path = o.audio_path;
    const TestSetSummary summary = run_test_set(set);
    for (const TestSetEntry& e : summary.entries)
      if (e.ok)
        std::printf("%s: %lld frames in %.1f s, %.2f frames/s -> %s\n", e.video.c_str(),
                    static_cast<long long>(e.frames), e.seconds, e.fps, e.output.string().c_str());
      else
        std::printf("%s: FAILED: %s\n", e.video.c_str(), e.error.c_str());
    std::printf("summary: %s\n", summary.summary_json.string().c_str());
    if (summary.failed() > 0)
      throw Error(std::to_string(summary.failed()) + " of " + std::to_string(summary.entries.size()) +
                  " videos failed (see " + summary.summary_json.string() + ")");
    return;
  }
  if (o.source_video.empty() || o.driving_audio.empty())
    throw Error("give --source_video_path and --driving_audio_path (one video), or --process_num (the test set)");
  Dubber dubber(infer);
  if (!o.quiet) std::fprintf(stderr, "dinet infer: %s\n", dubber.describe().c_str());
  DubJob job;
  job.source_video = o.source_video;
  job.driving_audio = o.driving_audio;
  job.landmark_csv = o.landmark_csv;
  job.output = published_result_path(o.res_video_dir, o.source_video);
  print_result(dubber.dub(job));
}

}  // namespace

void setup_infer(CLI::App& app) {
  auto o = std::make_shared<InferCliOptions>();
  InferOptions& infer = o->infer;
  auto* verb = app.add_subcommand(
      "infer",
      "Dub a video: re-render the mouth so the lips follow the driving audio (the published "
      "inference.py), or dub the first videos of the test set (--process_num)");
  verb->add_option("--source_video_path", o->source_video, "the video to dub (any frame rate; read at 25 fps)");
  verb->add_option("--driving_audio_path", o->driving_audio,
                   "the new speech: any audio file or a video's audio track; muxed into the result");
  verb->add_option("--source_openface_landmark_path", o->landmark_csv,
                   "OpenFace landmark CSV of the source video (default: landmarks are detected)");
  verb->add_option("--model_path,--pretrained_clip_DINet_path", infer.model_path,
                   "generator checkpoint (.pth), ours or the published one (default: "
                   "./asserts/clip_training_DINet_256mouth.pth)");
  verb->add_option("--deepspeech_model,--deepspeech_model_path", infer.deepspeech_model,
                   "DeepSpeech v0.1.0 output_graph.pb, for models trained on DeepSpeech features "
                   "(default: ./asserts/output_graph.pb when it exists)");
  verb->add_option("--deepspeech_precision", infer.deepspeech_precision,
                   "DeepSpeech LSTM weights: fp32 (default: the published features), bf16 "
                   "(half the LSTM's memory traffic, about a third less time; the features move by "
                   "about 3e-4 of their range) or int8 (a quarter of the "
                   "traffic, the weights stay in the cache: about 0.6 of bf16's time; the features "
                   "move by about 1.5e-3 of their range)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  verb->add_option("--audio_feature", infer.audio_feature,
                   "deepspeech or mel (default: the feature the checkpoint was trained with)")
      ->check(CLI::IsMember({"deepspeech", "mel"}));
  verb->add_option("--audio_feature_path", infer.audio_feature_path,
                   "ready features of the driving audio, (frames, channels) .txt or .npy, 25 rows per "
                   "second (default: computed)");
  verb->add_option("--res_video_dir", o->res_video_dir,
                   "where <video>_facial_dubbing_add_audio.mp4 goes (default: ./asserts/inference_result)");
  verb->add_option("--mouth_region_size", infer.mouth_region_size,
                   "mouth size in model pixels, 64/128/256 (default: the checkpoint's; 256 for a published one)");
  verb->add_option("--source_channel", o->source_channel, "published option, must be 3 (default: 3)");
  verb->add_option("--ref_channel", o->ref_channel, "published option, must be 15 (default: 15)");
  verb->add_option("--audio_channel", infer.audio_channel,
                   "published option: audio feature channels, checked against the checkpoint (default: "
                   "the checkpoint's)");
  verb->add_option("--process_num", o->process_num,
                   "dub the first N videos (sorted) of <root>/test_data/split_video_25fps into "
                   "<root>/inference_result, with inference_summary.json (default: 0, one video)");
  verb->add_option("--root", o->root, "test-set root folder (default: ./asserts)");
  verb->add_option("--audio_path", o->audio_path,
                   "test set: one audio driving every video (default: each video's own audio)");
  verb->add_option("--batch_size", infer.batch_size, "frames per network call (default: 4)")
      ->check(CLI::PositiveNumber);
  verb->add_option("--precision", o->precision,
                   "auto: bf16 on a CPU with AVX512-BF16 or AMX (about twice as fast, within 40 dB PSNR "
                   "of fp32), fp32 elsewhere; fp32; bf16 (those CPUs, and CUDA); fp16 (CUDA); int8 (CPU: most "
                   "convolutions in int8, about 1.6x bf16's speed with VNNI, ranges taken from the video's "
                   "first frames) (default: auto)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16", "int8"}));
  verb->add_option("--device", infer.device, "cpu or cuda (default: cpu)")->check(CLI::IsMember({"cpu", "cuda"}));
  verb->add_option("--seed", infer.seed, "seed of the reference frame choice (default: 0)");
  verb->add_option("--paste", o->paste,
                   "lower_face: only the lower face (jaw, cheeks, up to under the nose, from the "
                   "landmarks) with a soft edge and its colour matched to the skin around it; the "
                   "eyes, hair and background stay the source's; feathered: the whole face crop "
                   "blended in with a soft edge; hard: the published rectangle (default: lower_face)")
      ->check(CLI::IsMember({"lower_face", "feathered", "hard"}));
  verb->add_option("--crop_radius", o->crop_radius,
                   "segment: one crop size per stretch of similar face size, sub-pixel position; "
                   "published: per frame from the 5 frames around it, integer position (default: segment)")
      ->check(CLI::IsMember({"segment", "published"}));
  verb->add_option("--smooth_landmarks", infer.smooth_landmarks,
                   "smooth landmarks read from a CSV against jitter, true/false (default: true)");
  verb->add_option("--landmark_model", infer.landmark_model,
                   "dlib 68-point predictor for detection (default: "
                   "/usr/share/dlib/shape_predictor_68_face_landmarks.dat)");
  verb->add_option("--crf", infer.video.crf, "H.264 quality, lower is better (default: 18)")
      ->check(CLI::Range(0, 51));
  verb->add_option("--preset", infer.video.preset, "x264 preset, ultrafast ... veryslow (default: veryfast)");
  verb->add_option("--audio_sample_rate", infer.audio_sample_rate,
                   "sample rate of the muxed audio in Hz (default: 48000)")
      ->check(CLI::PositiveNumber);
  verb->add_flag("--quiet", o->quiet, "no progress bars");
  add_threads_option(verb, infer.threads);
  verb->callback([o] { run_infer(*o); });
}

}  // namespace dinet::cli
