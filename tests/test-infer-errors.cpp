// Bad input to `dinet infer`: one clear line naming the file, exit status 1, and nothing
// left in the result folder.
#include <fstream>

#include "dinet/files.h"
#include "dinet/npy.h"
#include "infer_test_support.h"

namespace dinet {
namespace {
namespace fs = std::filesystem;

class InferErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    clip_ = test::make_synth_clip(dir_->path(), 1.0, 128);
    mel_model_ = test::save_random_model(dir_->path() / "mel64.pth", 64, audio_feature_spec("mel"));
    tone_ = test::write_tone(dir_->path() / "tone.wav", 1.0);
  }
  static void TearDownTestSuite() { delete dir_; }

  // Runs infer with `args` and checks the failure: exit 1, one line, naming `culprit`.
  void expect_failure(const std::string& args, const fs::path& culprit) {
    const fs::path out = dir_->path() / "out";
    const auto run = test::run_dinet("infer --quiet --res_video_dir " + out.string() + " " + args);
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
    EXPECT_EQ(run.output.rfind("dinet: error: ", 0), 0u) << run.output;
    EXPECT_NE(run.output.find(culprit.filename().string()), std::string::npos)
        << "the message should name " << culprit << ": " << run.output;
    EXPECT_TRUE(test::files_in(out).empty()) << "left in the result folder after: " << run.output;
  }

  std::string inputs(const fs::path& video, const fs::path& audio, const fs::path& model) {
    return "--source_video_path " + video.string() + " --driving_audio_path " + audio.string() +
           " --model_path " + model.string();
  }

  static test::TempDir* dir_;
  static test::SynthClip clip_;
  static fs::path mel_model_, tone_;
};
test::TempDir* InferErrors::dir_ = nullptr;
test::SynthClip InferErrors::clip_;
fs::path InferErrors::mel_model_, InferErrors::tone_;

TEST_F(InferErrors, MissingSourceVideo) {
  const fs::path missing = dir_->path() / "nowhere.mp4";
  expect_failure(inputs(missing, tone_, mel_model_), missing);
}

TEST_F(InferErrors, MissingLandmarkFile) {
  const fs::path missing = dir_->path() / "nowhere.csv";
  expect_failure(inputs(clip_.video, tone_, mel_model_) + " --source_openface_landmark_path " + missing.string(),
                 missing);
}

TEST_F(InferErrors, VideoWithoutAFace) {
  const fs::path blank = dir_->path() / "blank.mp4";
  if (!fs::exists(blank)) {
    VideoWriter writer(blank, 128, 128);
    for (int k = 0; k < 20; ++k) writer.write(cv::Mat(128, 128, CV_8UC3, cv::Scalar(60, 90, 120)));
    writer.finish();
  }
  expect_failure(inputs(blank, tone_, mel_model_), blank);
}

TEST_F(InferErrors, ZeroLengthAudio) {
  const fs::path empty = dir_->path() / "empty.wav";
  write_wav(empty, Audio{});
  expect_failure(inputs(clip_.video, empty, mel_model_) + " --source_openface_landmark_path " + clip_.csv.string(),
                 empty);
}

TEST_F(InferErrors, CheckpointTrainedOnAnotherFeature) {
  // A mel model given DeepSpeech: refused before the graph is even read.
  const fs::path graph = dir_->path() / "output_graph.pb";
  std::ofstream(graph) << "not read";
  expect_failure(inputs(clip_.video, tone_, mel_model_) + " --deepspeech_model " + graph.string(), mel_model_);
  // A DeepSpeech model (29 channels) given mel features.
  const fs::path ds_model =
      test::save_random_model(dir_->path() / "ds64.pth", 64, audio_feature_spec("deepspeech"));
  expect_failure(inputs(clip_.video, tone_, ds_model) + " --audio_feature mel", ds_model);
  // Ready features with the wrong channel count.
  const fs::path features = dir_->path() / "ds_features.npy";
  write_npy(features, torch::zeros({25, 29}));
  expect_failure(inputs(clip_.video, tone_, mel_model_) + " --audio_feature_path " + features.string(), features);
}

TEST_F(InferErrors, FeatureFileOfAnotherLength) {
  const fs::path published = test::save_random_model(dir_->path() / "published64.pth", 64,
                                                     audio_feature_spec("deepspeech"), /*meta=*/false);
  const fs::path features = dir_->path() / "short_deepspeech.txt";
  write_feature_file(features, torch::zeros({10, 29}));  // the 1 s tone needs 25 rows
  expect_failure(inputs(clip_.video, tone_, published) + " --mouth_region_size 64 --source_openface_landmark_path " +
                     clip_.csv.string() + " --audio_feature_path " + features.string(),
                 features);
}

TEST_F(InferErrors, TruncatedCheckpoint) {
  const std::string bytes = read_file(mel_model_);
  const fs::path truncated = dir_->path() / "truncated.pth";
  write_file_atomic(truncated, bytes.substr(0, bytes.size() / 2));
  expect_failure(inputs(clip_.video, tone_, truncated), truncated);
}

TEST_F(InferErrors, PublishedCheckpointWithoutDeepSpeechGraph) {
  const fs::path published = test::save_random_model(dir_->path() / "published64.pth", 64,
                                                     audio_feature_spec("deepspeech"), /*meta=*/false);
  expect_failure(inputs(clip_.video, tone_, published) + " --mouth_region_size 64", published);
}

}  // namespace
}  // namespace dinet
