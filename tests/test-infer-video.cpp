// `dinet infer` end to end on a synthetic clip (exact landmarks) and on the first 2 s of a
// real clip (landmarks detected), with small random-weight models at mouth 64: the frame
// count follows the audio, the audio is muxed, the size is the source's and the picture
// away from the face is the source's.
#include <opencv2/imgproc.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "dinet/crop.h"
#include "dinet/face.h"
#include "dinet/infer.h"
#include "dinet/landmarks.h"
#include "dinet/npy.h"
#include "infer/source_frames.h"
#include "infer_test_support.h"

namespace dinet {
namespace {
namespace fs = std::filesystem;

// Every output frame against the source frame it was made from, over the pixels outside
// every crop window (grown by a margin): only re-encoding may change them.
void expect_unchanged_outside_faces(const fs::path& result, const fs::path& source,
                                    const std::vector<std::optional<CropWindow>>& windows) {
  const std::vector<cv::Mat> out = test::read_all_frames(result), in = test::read_all_frames(source);
  ASSERT_FALSE(in.empty());
  cv::Mat mask(in[0].size(), CV_8U, cv::Scalar(255));
  for (const auto& w : windows)
    if (w) cv::rectangle(mask, cv::Rect(w->rect) + cv::Size(24, 24) - cv::Point(12, 12), cv::Scalar(0), cv::FILLED);
  ASSERT_GT(cv::countNonZero(mask), mask.total() / 10) << "too little background to compare";
  for (size_t t = 0; t < out.size(); ++t) {
    const cv::Mat& src = in[infer::ping_pong_index(static_cast<int64_t>(t), static_cast<int64_t>(in.size()))];
    EXPECT_LT(test::mean_abs_diff(out[t], src, mask), 3.0) << "frame " << t;
  }
}

TEST(InferVideo, SyntheticClipThroughTheCommandLine) {
  test::TempDir dir;
  const test::SynthClip clip = test::make_synth_clip(dir.path(), 1.0);
  const fs::path model = test::save_random_model(dir / "mel64.pth", 64, audio_feature_spec("mel"));
  const fs::path audio = test::write_tone(dir / "drive.wav", 1.6);  // longer than the clip: ping-pong
  const auto run = test::run_dinet("infer --quiet --source_video_path " + clip.video.string() +
                                   " --driving_audio_path " + audio.string() + " --model_path " + model.string() +
                                   " --source_openface_landmark_path " + clip.csv.string() + " --res_video_dir " +
                                   (dir / "out").string() + " --batch_size 3 --threads 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const fs::path result = dir / "out" / "synth_000_facial_dubbing_add_audio.mp4";
  ASSERT_TRUE(fs::exists(result)) << run.output;
  EXPECT_EQ(test::files_in(dir / "out").size(), 1u) << "temporary files left behind";

  VideoReader reader(result);
  EXPECT_TRUE(reader.info().has_audio);
  EXPECT_EQ(reader.info().width, 192);
  EXPECT_EQ(reader.info().height, 192);
  const int64_t rows = feature_frame_count(static_cast<int64_t>(1.6 * 16000));
  EXPECT_EQ(static_cast<int64_t>(test::read_all_frames(result).size()), rows);
  EXPECT_NEAR(load_audio(result).duration_s(), 1.6, 0.05);

  const LandmarkTrack track = read_openface_csv(clip.csv);
  expect_unchanged_outside_faces(result, clip.video, crop_windows(track));
}

// The first `seconds` of a real clip, picture and sound.
fs::path real_clip_start(const fs::path& source, const fs::path& out, double seconds) {
  VideoReader reader(source);
  Audio audio = load_audio(source, 48000);
  audio.samples.resize(static_cast<size_t>(seconds * audio.sample_rate));
  VideoWriter writer(out, reader.info().width, reader.info().height, {}, &audio);
  cv::Mat frame;
  for (int k = 0; k < static_cast<int>(seconds * 25) && reader.read(frame); ++k) writer.write(frame);
  writer.finish();
  return out;
}

TEST(InferVideo, RealClipWithDetectedLandmarksAndThePublishedLayout) {
  DINET_REQUIRE_SHARED();
  test::TempDir dir;
  const fs::path clip =
      real_clip_start(test::shared_dir() / "data" / "real" / "videoretalking_face_2.mp4", dir / "face2.mp4", 2.0);
  const int64_t rows = feature_frame_count(2 * 16000);
  torch::manual_seed(5);
  write_npy(dir / "features.npy", torch::randn({rows, kDeepSpeechChannels}));

  InferOptions options;
  options.model_path = test::shared_dir() / "fixtures" / "parity64" / "dinet.pth";  // published, no metadata
  options.mouth_region_size = 64;
  options.audio_feature_path = dir / "features.npy";
  options.show_progress = false;
  options.batch_size = 4;
  Dubber dubber(options);
  DubJob job;
  job.source_video = clip;
  job.driving_audio = clip;
  job.output = published_result_path(dir / "out", clip);
  const DubResult result = dubber.dub(job);

  EXPECT_EQ(result.frames, rows);
  EXPECT_EQ(result.source_frames, 50);
  EXPECT_EQ(result.frames_without_face, 0);
  EXPECT_EQ(result.reference_frames.size(), 5u);
  VideoReader reader(result.output);
  EXPECT_TRUE(reader.info().has_audio);
  EXPECT_EQ(reader.info().width, 844);
  EXPECT_EQ(reader.info().height, 844);
  EXPECT_EQ(static_cast<int64_t>(test::read_all_frames(result.output).size()), rows);

  // The windows the run used come from the same detection; detect again to know them.
  const LandmarkModel model;
  const LandmarkTrack track = detect_video_landmarks(clip, model).track;
  expect_unchanged_outside_faces(result.output, clip, crop_windows(track));
}

TEST(InferVideo, TestSetGoesOnPastAFailingVideo) {
  test::TempDir dir;
  const test::SynthClip clip = test::make_synth_clip(dir.path(), 1.0);
  const fs::path videos = dir / "asserts" / "test_data" / "split_video_25fps";
  const fs::path csvs = dir / "asserts" / "test_data" / "split_video_25fps_landmark_openface";
  fs::create_directories(videos);
  fs::create_directories(csvs);
  fs::copy_file(clip.video, videos / "a_talking.mp4");
  fs::copy_file(clip.csv, csvs / "a_talking.csv");
  {
    // No face anywhere, and no CSV: detection finds nothing.
    Audio tone = load_audio(clip.video);
    VideoWriter writer(videos / "b_empty.mp4", 128, 128, {}, &tone);
    for (int k = 0; k < 25; ++k) writer.write(cv::Mat(128, 128, CV_8UC3, cv::Scalar(90, 120, 150)));
    writer.finish();
  }
  const fs::path model = test::save_random_model(dir / "mel64.pth", 64, audio_feature_spec("mel"));
  const auto run = test::run_dinet("infer --quiet --process_num 5 --root " + (dir / "asserts").string() +
                                   " --model_path " + model.string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("b_empty.mp4"), std::string::npos) << run.output;

  const fs::path results = dir / "asserts" / "inference_result";
  EXPECT_TRUE(fs::exists(results / "a_talking_facial_dubbing_add_audio.mp4"));
  EXPECT_FALSE(fs::exists(results / "b_empty_facial_dubbing_add_audio.mp4"));
  std::ifstream in(results / "inference_summary.json");
  const nlohmann::json summary = nlohmann::json::parse(in);
  ASSERT_EQ(summary["videos"].size(), 2u);
  EXPECT_EQ(summary["videos"][0]["status"], "ok");
  // Driven by its own audio: as many frames as that audio has feature rows.
  const auto own_audio = static_cast<int64_t>(load_audio(clip.video, 16000).samples.size());
  EXPECT_EQ(summary["videos"][0]["frames"], feature_frame_count(own_audio));
  EXPECT_EQ(summary["videos"][1]["status"], "failed");
  EXPECT_NE(summary["videos"][1]["error"].get<std::string>().find("no face"), std::string::npos);
  EXPECT_EQ(summary["failed"], 1);
}

}  // namespace
}  // namespace dinet
