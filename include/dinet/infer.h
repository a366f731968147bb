// `dinet infer`: visual dubbing of whole videos with a trained DINet generator, as the
// published inference.py does it (5-frame feature windows padded by edge repetition, as many
// output frames as feature rows, a short source played forwards then backwards and repeated,
// a long one cut, the driving audio muxed), and the published fork's test-set run
// (`--process_num`).
//
// What changes from the published script: the video streams (decode, crop, network, paste
// and encode overlap on bounded queues, so memory does not grow with its length); the
// reference branch runs once per video and frames go through the network in batches;
// reference frames are chosen over the range of mouth openings, not at random; crops keep
// sub-pixel positions with one radius per segment, and only the lower face is pasted back,
// with a soft edge and its colour matched to the skin around it. Faces that change size, leave the frame or vanish for a while no longer
// abort the video: frames without a face are written unchanged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dinet/crop.h"
#include "dinet/media.h"

namespace dinet {

// Arithmetic of the generator. bf16 runs on CPUs with AVX512-BF16 or AMX (and on CUDA);
// fp16 on CUDA only. Both stay within 40 dB PSNR of fp32 (docs/PERFORMANCE.md). int8 (CPU
// only, opt-in): the largest convolutions in int8 with scales calibrated on each video's
// first batch, the rest in bf16 (fp32 where the CPU lacks bf16).
enum class Precision { fp32, bf16, fp16, int8 };
Precision parse_precision(const std::string& name);  // throws dinet::Error
std::string to_string(Precision precision);
// `--precision auto`: bf16 on a CPU that multiplies it in hardware (twice fp32's speed
// there), fp32 elsewhere. fp32 on CUDA too: end to end a GPU dub is bound by decoding and
// encoding on the CPU, so half precision gains nothing there (docs/PERFORMANCE.md).
Precision automatic_precision(const std::string& device);

struct InferOptions {
  std::filesystem::path model_path = "./asserts/clip_training_DINet_256mouth.pth";
  // Where the audio features come from. With none of the three set, the checkpoint's own
  // feature is computed (mel built in; DeepSpeech needs ./asserts/output_graph.pb).
  std::string audio_feature;                 // "deepspeech" or "mel"
  std::filesystem::path deepspeech_model;    // output_graph.pb (implies deepspeech)
  std::string deepspeech_precision = "fp32";  // "bf16", "int8": dinet::DeepSpeechPrecision
  std::filesystem::path audio_feature_path;  // ready (frames, channels) .txt / .npy
  // 0: the checkpoint's (our checkpoints record it; published ones are 256).
  int mouth_region_size = 0;
  int audio_channel = 0;  // 0: the checkpoint's; otherwise it must be the checkpoint's

  std::string device = "cpu";  // "cpu" or "cuda"
  Precision precision = Precision::fp32;
  int batch_size = 4;  // frames per network call
  int threads = 0;     // LibTorch/OpenCV threads; <= 0: every core

  uint64_t seed = 0;  // reference frame choice
  PasteMode paste = PasteMode::LowerFace;
  // true: one crop radius per segment of similar face size; false: the published radius of
  // the 5 frames around each frame, with integer positions.
  bool segment_radius = true;
  // Smooth landmarks read from a CSV (OpenFace's jitter by a pixel or two would shake the
  // crop). Detected landmarks are always smoothed.
  bool smooth_landmarks = true;
  std::filesystem::path landmark_model;  // dlib predictor; empty: the system's

  VideoWriterOptions video;     // H.264 settings of the result
  int audio_sample_rate = 48000;  // of the muxed driving audio
  bool show_progress = true;
};

// One video to dub.
struct DubJob {
  std::filesystem::path source_video;
  std::filesystem::path driving_audio;  // any audio or video file; muxed into the result
  std::filesystem::path landmark_csv;   // OpenFace CSV; empty: landmarks are detected
  std::filesystem::path output;         // .mp4, written atomically
  std::string label;                    // progress bar label; empty: "dubbing <video name>"
};

struct DubResult {
  std::filesystem::path output;
  int64_t frames = 0;           // written, = feature rows of the driving audio
  int64_t source_frames = 0;    // of the source video at 25 fps
  int64_t frames_without_face = 0;  // written unchanged
  std::vector<int64_t> reference_frames;  // source frame indices
  double seconds = 0;           // the whole job, landmarks and features included
  double fps() const { return seconds > 0 ? frames / seconds : 0; }
};

// The model, loaded once, and what it needs; dubs any number of videos in turn.
class Dubber {
 public:
  // Loads the checkpoint and the audio feature extractor and checks that they agree, so
  // that a mismatch fails before any video is touched. Throws dinet::Error naming the file.
  explicit Dubber(const InferOptions& options);
  ~Dubber();
  Dubber(const Dubber&) = delete;
  Dubber& operator=(const Dubber&) = delete;

  // Throws dinet::Error naming the bad input; then nothing is left at job.output. With
  // show_progress, bars show landmark detection (when there is no CSV) and the frames.
  DubResult dub(const DubJob& job);

  int mouth_region_size() const;
  std::string describe() const;  // "mouth 256, deepspeech (29 channels), cpu fp32"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The published name: <res_video_dir>/<source stem>_facial_dubbing_add_audio.mp4.
std::filesystem::path published_result_path(const std::filesystem::path& res_video_dir,
                                            const std::filesystem::path& source_video);

// ---- the test set (`dinet infer --process_num x`) ---------------------------------------------

struct TestSetOptions {
  InferOptions infer;
  std::filesystem::path root = "./asserts";  // holds test_data/split_video_25fps
  int process_num = 1;                       // the first x videos, sorted by name
  std::filesystem::path audio_path;          // drives every video; empty: each its own audio
  std::filesystem::path res_video_dir;       // empty: <root>/inference_result
};

struct TestSetEntry {
  std::string video;  // file name
  std::filesystem::path output;
  bool ok = false;
  std::string error;  // when not ok
  int64_t frames = 0;
  double seconds = 0;
  double fps = 0;
};

struct TestSetSummary {
  std::vector<TestSetEntry> entries;
  std::filesystem::path summary_json;  // <res_video_dir>/inference_summary.json
  int failed() const;
};

// Dubs each video in turn; a failing video is recorded and the rest go on. Throws
// dinet::Error only for problems that stop every video (no test folder, a bad model).
TestSetSummary run_test_set(const TestSetOptions& options);

}  // namespace dinet
