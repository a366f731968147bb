// LSE-C / LSE-D: the MFCC against python_speech_features (../shared/fixtures/syncnet_mfcc),
// the SyncNet of syncnet_python and its scores against a PyTorch transcription of the
// published code on random weights in the released file's layout (tests/lse_reference.py,
// where a python3 with torch exists), and the crop and the offset search on constructed cases.
#include <ATen/ATen.h>
#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/media.h"
#include "dinet/npy.h"
#include "dinet/torch_file.h"
#include "eval/lse_crop.h"
#include "eval/lse_mfcc.h"
#include "eval/lse_score.h"
#include "eval/lse_syncnet.h"
#include "infer_test_support.h"
#include "python_support.h"

namespace fs = std::filesystem;
using dinet::test::TempDir;

namespace {

using dinet::test::error_of;

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// Largest difference relative to the largest magnitude of the reference.
double relative_difference(const at::Tensor& actual, const at::Tensor& expected) {
  return max_abs_diff(actual, expected) / expected.to(at::kDouble).abs().max().item<double>();
}

fs::path mfcc_fixture(const std::string& name) {
  return dinet::test::shared_dir() / "fixtures" / "syncnet_mfcc" / name;
}

// Channel 0 of the 16 kHz stereo fixture wav, as the fixture was made.
std::vector<int16_t> fixture_pcm() {
  const auto wav = dinet::test::shared_dir() / "data" / "real" / "sadtalker_RD_Radio31_000.wav";
  return dinet::eval::lse_pcm(dinet::load_audio(wav, 16000, dinet::AudioChannels::first));
}

}  // namespace

// ---- MFCC ---------------------------------------------------------------------------------------

TEST(LseMfcc, MatchesPythonSpeechFeatures) {
  DINET_REQUIRE_SHARED();
  const auto pcm = fixture_pcm();
  ASSERT_EQ(pcm.size(), 128000u);
  const at::Tensor mfcc = dinet::eval::lse_mfcc(pcm);
  const at::Tensor expected = dinet::read_npy(mfcc_fixture("mfcc.npy"));
  ASSERT_EQ(mfcc.t().sizes(), expected.sizes());
  EXPECT_EQ(mfcc.scalar_type(), at::kFloat);
  EXPECT_LT(max_abs_diff(mfcc.t(), expected), 1e-3);
}

TEST(LseMfcc, PartialLastFrameMatches) {
  DINET_REQUIRE_SHARED();
  auto pcm = fixture_pcm();
  pcm.resize(16123);  // not a whole number of hops: the last frame is zero-padded
  const at::Tensor mfcc = dinet::eval::lse_mfcc(pcm);
  const at::Tensor expected = dinet::read_npy(mfcc_fixture("short_mfcc.npy"));
  ASSERT_EQ(mfcc.t().sizes(), expected.sizes());
  EXPECT_LT(max_abs_diff(mfcc.t(), expected), 1e-3);
}

TEST(LseMfcc, SamplesRoundLikeFfmpeg) {
  dinet::Audio audio;
  audio.samples = {0.5f / 32768, 1.5f / 32768, -2.6f / 32768, 1.0f, -1.0f, 100.0f / 32768};
  EXPECT_EQ(dinet::eval::lse_pcm(audio), (std::vector<int16_t>{0, 2, -3, 32767, -32768, 100}));
}

// ---- the crop ---------------------------------------------------------------------------------

TEST(LseCrop, MedianFilterPadsWithZerosLikeScipy) {
  // scipy.signal.medfilt([5, 3, 8, 1, 9], 3) == [3, 5, 3, 8, 1]
  EXPECT_EQ(dinet::eval::median_filter({5, 3, 8, 1, 9}, 3), (std::vector<double>{3, 5, 3, 8, 1}));
  // A kernel longer than the signal: mostly zeros.
  EXPECT_EQ(dinet::eval::median_filter({4, 4}, 13), (std::vector<double>{0, 0}));
}

TEST(LseCrop, BoxFromJawAndBrows) {
  dinet::FaceLandmarks points;
  for (auto& p : points) p = {100, 100};
  points[0] = {60, 90};     // jaw: left
  points[16] = {140, 90};   // right
  points[8] = {100, 180};   // chin
  points[19] = {80, 100};   // brows: top at 100
  const auto box = dinet::eval::lse_face_box(points);
  // top = 100 - 0.25 * (180 - 100) = 80: height 100 > width 80.
  EXPECT_DOUBLE_EQ(box.x, 100);
  EXPECT_DOUBLE_EQ(box.y, 130);
  EXPECT_DOUBLE_EQ(box.s, 50);
}

TEST(LseCrop, BoxesAreInterpolatedOverGapsThenMedianFiltered) {
  dinet::LandmarkTrack track;
  for (int i = 0; i < 30; ++i) {
    dinet::FaceLandmarks points;
    for (auto& p : points) p = {100.0f + i, 100};
    points[0].x = 60.0f + i, points[16].x = 140.0f + i, points[8].y = 180, points[19].y = 100;
    track.frames.push_back(points);
    track.success.push_back(i == 14 || i == 15 ? 0 : 1);
    track.confidence.push_back(1);
  }
  track.frames[14][0].x = track.frames[15][0].x = 0;  // not looked at: no face there
  const auto boxes = dinet::eval::lse_face_boxes(track);
  ASSERT_EQ(boxes.size(), 30u);
  // Away from the ends the median of a steady motion is the motion itself, gap included.
  for (int i = 6; i < 24; ++i) EXPECT_NEAR(boxes[i].x, 100 + i, 1e-9) << i;
  EXPECT_NEAR(boxes[15].s, 50, 1e-9);
  // Near the ends the zero padding pulls the median down, as scipy's medfilt does.
  EXPECT_NEAR(boxes[0].x, 100, 1e-9);  // 6 zeros and x = 100..106: the 7th value is 100
  EXPECT_TRUE(dinet::eval::lse_face_boxes(dinet::LandmarkTrack{}).empty());
}

TEST(LseCrop, CropsTheExpandedBoxAndPadsWith110) {
  // Box centre (200, 150), s = 50: rows 100 .. 240, columns 130 .. 270 of the frame.
  cv::Mat frame(400, 400, CV_8UC3, cv::Scalar::all(0));
  frame(cv::Range(100, 240), cv::Range(130, 270)).setTo(cv::Scalar::all(255));
  const cv::Mat crop = dinet::eval::lse_crop(frame, {200, 150, 50});
  ASSERT_EQ(crop.size(), cv::Size(224, 224));
  ASSERT_EQ(crop.type(), CV_8UC3);
  double lo, hi;
  cv::minMaxLoc(crop.reshape(1), &lo, &hi);
  EXPECT_EQ(lo, 255);
  // A box past the left edge: the padding (110) fills the left of the crop.
  const cv::Mat edge = dinet::eval::lse_crop(cv::Mat(400, 400, CV_8UC3, cv::Scalar::all(255)), {0, 150, 50});
  EXPECT_EQ(edge.at<cv::Vec3b>(112, 10), cv::Vec3b(110, 110, 110));
  EXPECT_EQ(edge.at<cv::Vec3b>(112, 200), cv::Vec3b(255, 255, 255));
}

// ---- the scores on constructed embeddings ----------------------------------------------------------

TEST(LseScore, WindowCountFollowsEvaluate) {
  EXPECT_EQ(dinet::eval::lse_window_count(24, 24 * 640), 19);
  EXPECT_EQ(dinet::eval::lse_window_count(24, 10 * 640 + 639), 5);  // the audio is shorter
  EXPECT_EQ(dinet::eval::lse_window_count(5, 100000), 0);
}

TEST(LseScore, FindsTheShiftOfEqualEmbeddings) {
  // Audio window j carries what video window j - 3 shows: the audio is 3 windows late.
  torch::manual_seed(1);
  const int64_t n = 40, late = 3;
  const at::Tensor v = torch::randn({n + late, dinet::eval::kLseEmbedding});
  const dinet::eval::LseEmbeddings e{v.slice(0, late, n + late), v.slice(0, 0, n)};
  const dinet::LseFigures f = dinet::eval::lse_figures(e);
  // syncnet_python's sign: 15 - the best shift, negative when the audio comes late.
  EXPECT_EQ(f.offset, -late);
  ASSERT_EQ(f.mean_distance.size(), 31u);
  // At that shift n - 3 windows match (distance ~ 0); the others compare with zeros.
  EXPECT_LT(f.distance, f.mean_distance[0]);
  std::vector<double> sorted = f.mean_distance;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NEAR(f.confidence, sorted[15] - sorted[0], 1e-4);
  EXPECT_NEAR(f.distance, sorted[0], 1e-6);
  EXPECT_EQ(f.windows, n);
}

// ---- loading ------------------------------------------------------------------------------------

TEST(LseSyncNet, StateDictKeysAreThePublishedOnes) {
  dinet::eval::LseSyncNet net;
  const dinet::StateDict state = dinet::module_state_dict(*net);
  std::vector<std::string> keys;
  for (const auto& [name, tensor] : state) keys.push_back(name);
  // Spot checks; LseReference compares the whole list with S().state_dict().
  EXPECT_NE(std::find(keys.begin(), keys.end(), "netcnnaud.0.weight"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "netcnnaud.19.running_var"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "netfcaud.3.bias"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "netcnnlip.19.running_mean"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "netfclip.1.num_batches_tracked"), keys.end());
  net->eval();
  torch::NoGradGuard no_grad;
  at::Tensor lip = net->forward_lip(torch::zeros({1, 3, 5, 224, 224}));
  EXPECT_EQ(lip.sizes(), (std::vector<int64_t>{1, 1024}));
  EXPECT_EQ(net->forward_aud(torch::zeros({2, 1, 13, 20})).sizes(), (std::vector<int64_t>{2, 1024}));
}

TEST(LseSyncNet, OnlyBatchCountersMayBeAbsent) {
  const TempDir dir;
  dinet::eval::LseSyncNet net;
  dinet::StateDict without_counters, without_a_weight;
  for (const auto& entry : dinet::module_state_dict(*net)) {
    if (entry.first.ends_with("num_batches_tracked")) continue;
    without_counters.push_back(entry);
    if (entry.first != "netfclip.3.bias") without_a_weight.push_back(entry);
  }
  dinet::save_torch_file(dir / "released.model", dinet::state_dict_value(without_counters));
  EXPECT_NO_THROW(dinet::eval::load_lse_syncnet(dir / "released.model"));
  dinet::save_torch_file(dir / "broken.model", dinet::state_dict_value(without_a_weight));
  const std::string message = error_of([&] { dinet::eval::load_lse_syncnet(dir / "broken.model"); });
  EXPECT_NE(message.find((dir / "broken.model").string() + ": "), std::string::npos) << message;
  EXPECT_NE(message.find("missing keys: netfclip.3.bias"), std::string::npos) << message;
  EXPECT_EQ(message.find("num_batches_tracked"), std::string::npos) << message;
  // Elsewhere the counters stay required.
  dinet::eval::LseSyncNet other;
  const std::string strict = error_of([&] { dinet::load_state_dict(*other, without_counters, "strict"); });
  EXPECT_NE(strict.find("num_batches_tracked"), std::string::npos) << strict;
  const std::string missing = error_of([&] { dinet::eval::load_lse_syncnet(dir / "none.model"); });
  EXPECT_NE(missing.find((dir / "none.model").string() + ": no such"), std::string::npos) << missing;
}

TEST(LseSyncNet, TheCommandChecksTheModelBeforeAnyVideo) {
  const TempDir dir;
  fs::create_directories(dir / "results");
  fs::create_directories(dir / "sources");
  std::ofstream(dir / "results" / "clip.mp4") << "not read";
  const auto run = dinet::test::run_dinet(" evaluate --result_dir " + (dir / "results").string() +
                                          " --test_video_dir " + (dir / "sources").string() + " --res_dir " +
                                          (dir / "report").string() + " --lse_model " + (dir / "missing.model").string());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find((dir / "missing.model").string() + ": no such SyncNet weight file"), std::string::npos)
      << run.output;
  EXPECT_FALSE(fs::exists(dir / "report"));
}

// ---- in `dinet evaluate` -------------------------------------------------------------------------

namespace {

// A synthetic clip evaluated as its own result, with a random LSE SyncNet when `with_model`.
nlohmann::json evaluate_with_lse(const TempDir& dir, double seconds, bool with_model) {
  dinet::EvaluateOptions options = dinet::test::self_evaluation(dir.path(), seconds);
  if (with_model) {
    torch::manual_seed(3);
    dinet::eval::LseSyncNet net;
    dinet::StateDict released;  // as syncnet_v2.model: no BatchNorm counters
    for (const auto& entry : dinet::module_state_dict(*net))
      if (!entry.first.ends_with("num_batches_tracked")) released.push_back(entry);
    dinet::save_torch_file(dir / "syncnet_v2.model", dinet::state_dict_value(released));
    options.lse_model = dir / "syncnet_v2.model";
  }
  dinet::write_evaluation_report(options.output_dir, dinet::evaluate_results(options), options);
  return nlohmann::json::parse(std::ifstream(options.output_dir / "metrics.json"));
}

}  // namespace

TEST(LseEvaluate, EveryVideoAndTheSetGetLseFigures) {
  const TempDir dir;
  const nlohmann::json metrics = evaluate_with_lse(dir, 1.0, true);
  const auto& v = metrics["videos"][0];
  ASSERT_FALSE(v.contains("error")) << v.dump();
  ASSERT_TRUE(v["lse_d"].is_number()) << v.dump();
  EXPECT_GT(v["lse_d"].get<double>(), 0);
  EXPECT_GE(v["lse_c"].get<double>(), 0);  // the median is never below the minimum
  EXPECT_LE(std::abs(v["lse_offset"].get<int>()), 15);
  EXPECT_EQ(metrics["lse"]["videos"], 1);
  EXPECT_DOUBLE_EQ(metrics["lse"]["lse_d"].get<double>(), v["lse_d"].get<double>());
  EXPECT_DOUBLE_EQ(metrics["lse"]["lse_c"].get<double>(), v["lse_c"].get<double>());
  EXPECT_FALSE(metrics["lse"].contains("not_computed"));
  std::ifstream csv(dir / "report" / "metrics.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find("lse_c,lse_d,lse_offset"), std::string::npos) << header;
}

TEST(LseEvaluate, WithoutTheModelTheFiguresAreNullWithTheReason) {
  const TempDir dir;
  const nlohmann::json metrics = evaluate_with_lse(dir, 0.5, false);
  const auto& v = metrics["videos"][0];
  EXPECT_TRUE(v["lse_c"].is_null());
  EXPECT_TRUE(v["lse_d"].is_null());
  EXPECT_TRUE(v["lse_offset"].is_null());
  EXPECT_TRUE(metrics["lse"]["lse_c"].is_null());
  EXPECT_NE(metrics["lse"]["not_computed"].get<std::string>().find("--lse_model"), std::string::npos);
}

TEST(LseEvaluate, AClipShorterThanTheMedianFilterHasANote) {
  const TempDir dir;
  const nlohmann::json metrics = evaluate_with_lse(dir, 0.4, true);  // 10 frames
  const auto& v = metrics["videos"][0];
  ASSERT_FALSE(v.contains("error")) << v.dump();
  EXPECT_GE(v["psnr_face"].get<double>(), 99.0);  // the other figures stand
  EXPECT_TRUE(v["lse_d"].is_null());
  EXPECT_NE(v["note"].get<std::string>().find("no LSE-C/LSE-D: LSE needs at least 13 frames"), std::string::npos)
      << v.dump();
  EXPECT_NE(metrics["lse"]["not_computed"].get<std::string>().find("no video could be scored"), std::string::npos);
}

// ---- against PyTorch -----------------------------------------------------------------------------

class LseReference : public ::testing::Test {
 protected:
  static constexpr int64_t kFrames = 24;
  static constexpr int64_t kSamples = kFrames * 640 + 123;

  static void SetUpTestSuite() {
    python_ = dinet::test::python_with("torch");
    if (python_.empty()) return;
    dir_ = new TempDir;
    // Face-like enough: smooth random images, so the 7x7 and 5x5 kernels see structure.
    torch::manual_seed(2);
    const at::Tensor small = torch::randint(0, 256, {kFrames, 3, 28, 28}).to(torch::kFloat);
    frames_ = torch::upsample_bilinear2d(small, {224, 224}, false).round().clamp(0, 255).to(torch::kUInt8)
                  .permute({0, 2, 3, 1}).contiguous();
    mfcc_ = torch::randn({13, 4 * kFrames + 20}) * 10;
    dinet::write_npy(*dir_ / "frames.npy", frames_);
    dinet::write_npy(*dir_ / "mfcc.npy", mfcc_);
    script_ = dinet::test::run_shell(python_ + " " + (dinet::test::source_dir() / "tests" / "lse_reference.py").string() +
                                     " " + dir_->path().string() + " " + std::to_string(kSamples) + " > " +
                                     (*dir_ / "expected.json").string());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (python_.empty()) GTEST_SKIP() << "no python3 with 'torch' here: skipping a PyTorch comparison";
    ASSERT_EQ(script_.exit_code, 0) << script_.output;
    expected_ = nlohmann::json::parse(std::ifstream(*dir_ / "expected.json"));
  }
  static std::vector<cv::Mat> crops() {
    std::vector<cv::Mat> out;
    for (int64_t i = 0; i < kFrames; ++i) out.emplace_back(224, 224, CV_8UC3, frames_[i].data_ptr<uint8_t>());
    return out;
  }
  at::Tensor expected(const char* name) const {
    const auto rows = expected_.at(name).get<std::vector<std::vector<float>>>();
    at::Tensor t = at::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
    for (size_t i = 0; i < rows.size(); ++i)
      t[i] = torch::tensor(rows[i]);
    return t;
  }

  static inline std::string python_;
  static inline TempDir* dir_ = nullptr;
  static inline dinet::test::CommandResult script_;
  static inline at::Tensor frames_, mfcc_;
  nlohmann::json expected_;
};

TEST_F(LseReference, EmbeddingsAndScoresMatchPyTorch) {
  dinet::eval::LseSyncNet net = dinet::eval::load_lse_syncnet(*dir_ / "syncnet_v2.model");
  const int64_t windows = dinet::eval::lse_window_count(kFrames, kSamples);
  const auto e = dinet::eval::lse_embeddings(net, crops(), mfcc_, windows);
  const at::Tensor lip = expected("lip"), audio = expected("audio");
  ASSERT_EQ(e.lip.sizes(), lip.sizes());
  ASSERT_EQ(e.audio.sizes(), audio.sizes());
  EXPECT_LT(relative_difference(e.lip, lip), 1e-4);
  EXPECT_LT(relative_difference(e.audio, audio), 1e-4);

  const dinet::LseFigures f = dinet::eval::lse_figures(e);
  const auto mean_distance = expected_.at("mean_distance").get<std::vector<double>>();
  ASSERT_EQ(f.mean_distance.size(), mean_distance.size());
  for (size_t k = 0; k < mean_distance.size(); ++k)
    EXPECT_NEAR(f.mean_distance[k], mean_distance[k], 1e-4 * std::abs(mean_distance[k])) << k;
  EXPECT_EQ(f.offset, expected_.at("offset").get<int>());
  const double lse_d = expected_.at("lse_d").get<double>(), lse_c = expected_.at("lse_c").get<double>();
  EXPECT_NEAR(f.distance, lse_d, 1e-4 * lse_d);
  // LSE-C is a difference of two distances: compare it at the scale of the distances.
  EXPECT_NEAR(f.confidence, lse_c, 1e-4 * lse_d);
  std::printf("LSE reference (random weights): offset %d, LSE-C %.6f (PyTorch %.6f), LSE-D %.6f (PyTorch %.6f)\n",
              f.offset, f.confidence, lse_c, f.distance, lse_d);
}

TEST_F(LseReference, StateDictKeysAreThoseOfS) {
  dinet::eval::LseSyncNet net;
  std::vector<std::string> keys;
  for (const auto& [name, tensor] : dinet::module_state_dict(*net)) keys.push_back(name);
  EXPECT_EQ(keys, expected_.at("keys").get<std::vector<std::string>>());
}

TEST_F(LseReference, ModernFilesWithBatchCountersGiveTheSameNetwork) {
  dinet::eval::LseSyncNet released = dinet::eval::load_lse_syncnet(*dir_ / "syncnet_v2.model");
  dinet::eval::LseSyncNet modern = dinet::eval::load_lse_syncnet(*dir_ / "syncnet_zip.model");
  torch::NoGradGuard no_grad;
  const at::Tensor mfcc = mfcc_.slice(1, 0, 20).reshape({1, 1, 13, 20});
  EXPECT_TRUE(torch::equal(released->forward_aud(mfcc), modern->forward_aud(mfcc)));
  const auto state = dinet::module_state_dict(*modern);
  for (const auto& [name, tensor] : state)
    if (name == "netcnnaud.1.num_batches_tracked") EXPECT_EQ(tensor.item<int64_t>(), 7);
}
