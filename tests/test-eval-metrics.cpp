#include <opencv2/imgproc.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dinet/evaluate.h"
#include "infer_test_support.h"

namespace {

cv::Mat pattern(int seed) {
  cv::Mat m(64, 48, CV_8UC3);
  cv::randu(m, seed, 255);
  cv::GaussianBlur(m, m, cv::Size(5, 5), 2);
  return m;
}

}  // namespace

TEST(ImageMetrics, IdenticalImagesScorePerfect) {
  const cv::Mat a = pattern(0);
  EXPECT_DOUBLE_EQ(dinet::psnr(a, a), 100.0);
  EXPECT_NEAR(dinet::ssim(a, a), 1.0, 1e-6);
}

TEST(ImageMetrics, PsnrMatchesTheDefinition) {
  const cv::Mat a(10, 10, CV_8UC3, cv::Scalar(100, 100, 100));
  const cv::Mat b(10, 10, CV_8UC3, cv::Scalar(110, 110, 110));  // MSE 100
  EXPECT_NEAR(dinet::psnr(a, b), 10 * std::log10(255.0 * 255.0 / 100.0), 1e-9);
}

TEST(ImageMetrics, SsimFallsWithNoise) {
  const cv::Mat a = pattern(1);
  cv::Mat noise(a.size(), a.type()), b, c;
  cv::randn(noise, 0, 8);
  cv::add(a, noise, b);
  cv::randn(noise, 0, 40);
  cv::add(a, noise, c);
  const double light = dinet::ssim(a, b), heavy = dinet::ssim(a, c);
  EXPECT_LT(light, 1.0);
  EXPECT_LT(heavy, light);
  EXPECT_GT(dinet::psnr(a, b), dinet::psnr(a, c));
}

TEST(ImageMetrics, SsimOfIdenticalFlatColourImagesIsOne) {
  // Every channel gets the stabilising constants (a bare number would reach channel 0 only).
  const cv::Mat flat(32, 32, CV_8UC3, cv::Scalar(10, 120, 240));
  EXPECT_NEAR(dinet::ssim(flat, flat), 1.0, 1e-6);
}

TEST(ImageMetrics, SizeMismatchIsAnError) {
  EXPECT_THROW(dinet::psnr(pattern(0), cv::Mat(10, 10, CV_8UC3)), std::runtime_error);
}

TEST(EvaluationReport, WritesJsonCsvAndHtml) {
  dinet::test::TempDir dir;
  dinet::VideoEvaluation ok;
  ok.name = "clip_a";
  ok.frames = 3;
  ok.psnr_face = 30.5;
  ok.ssim_face = 0.9;
  ok.psnr_mouth = 25;
  ok.ssim_mouth = 0.8;
  ok.lmd = 1.5;
  ok.psnr_face_by_frame = {30, std::nan(""), 31};
  ok.lmd_by_frame = {1, 2, 1.5};
  ok.sync = dinet::SyncFigures{1, 0.25, 0.6, {0.1, 0.6, 0.7}, {std::nan(""), 0.6, std::nan("")}};
  ok.stills.push_back(pattern(2));
  dinet::VideoEvaluation bad;
  bad.name = "clip_b";
  bad.error = "clip_b.mp4: no source video";
  dinet::EvaluateOptions options;
  dinet::Evaluation evaluation;
  evaluation.videos = {ok, bad};
  evaluation.lpips_absent = "no --lpips_weights/--lpips_backbone given";
  evaluation.fid_absent = "no --fid_weights given";
  dinet::write_evaluation_report(dir.path(), evaluation, options);

  std::ifstream json_in(dir / "metrics.json");
  const auto json = nlohmann::json::parse(json_in);
  ASSERT_EQ(json["videos"].size(), 2u);
  EXPECT_EQ(json["videos"][0]["sync_offset"], 1);
  EXPECT_DOUBLE_EQ(json["videos"][0]["psnr_face"].get<double>(), 30.5);
  EXPECT_EQ(json["videos"][1]["error"], "clip_b.mp4: no source video");
  // Without weights LPIPS and FID are absent, with the reason, never zero.
  EXPECT_TRUE(json["videos"][0]["lpips_face"].is_null());
  EXPECT_TRUE(json["videos"][0]["fid"].is_null());
  EXPECT_EQ(json["lpips"]["not_computed"], "no --lpips_weights/--lpips_backbone given");
  EXPECT_TRUE(json["fid"]["value"].is_null());
  EXPECT_EQ(json["fid"]["not_computed"], "no --fid_weights given");

  std::ifstream csv_in(dir / "metrics.csv");
  std::string header, line_a, line_b;
  std::getline(csv_in, header);
  std::getline(csv_in, line_a);
  std::getline(csv_in, line_b);
  EXPECT_EQ(header.rfind("name,frames,psnr_face", 0), 0u);
  EXPECT_EQ(line_a.rfind("clip_a,3,30.500", 0), 0u);
  EXPECT_EQ(std::count(line_b.begin(), line_b.end(), ','), std::count(header.begin(), header.end(), ','));

  std::stringstream html;
  html << std::ifstream(dir / "report.html").rdbuf();
  EXPECT_NE(html.str().find("<svg"), std::string::npos);
  EXPECT_NE(html.str().find("data:image/jpeg;base64,"), std::string::npos);
  EXPECT_NE(html.str().find("no source video"), std::string::npos);
  EXPECT_NE(html.str().find("FID not computed (no --fid_weights given)"), std::string::npos);
}

TEST(Evaluate, MissingResultDirectoryIsAClearError) {
  dinet::EvaluateOptions options;
  options.result_dir = "/nonexistent/inference_result";
  try {
    dinet::evaluate_results(options);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/inference_result"), std::string::npos);
  }
}

namespace {

// A test set whose "result" is the source itself, evaluated with a random SyncNet.
nlohmann::json evaluate_source_as_result(const dinet::test::TempDir& dir, double seconds) {
  namespace fs = std::filesystem;
  const auto clip = dinet::test::make_synth_clip(dir.path(), seconds);
  const fs::path results = dir.path() / "inference_result";
  fs::create_directories(results);
  fs::copy_file(clip.video, results / (clip.video.stem().string() + "_facial_dubbing_add_audio.mp4"));
  torch::manual_seed(1);
  dinet::SyncNet net(15, dinet::audio_feature_spec("mel").channels, 128);
  dinet::TorchValue file = dinet::published_syncnet_checkpoint(dinet::module_state_dict(*net));
  dinet::TorchValue meta = dinet::TorchValue::dict();
  meta.set("mouth_region_size", 64);
  meta.set("audio_feature", "mel");
  file.set("dinet_meta", meta);
  dinet::save_torch_file(dir.path() / "syncnet.pth", file);

  dinet::EvaluateOptions options;
  options.result_dir = results;
  options.test_video_dir = clip.video.parent_path();
  options.output_dir = dir.path() / "evaluate_result";
  options.syncnet_path = dir.path() / "syncnet.pth";
  const auto videos = dinet::evaluate_results(options);
  dinet::write_evaluation_report(options.output_dir, videos, options);
  std::ifstream in(options.output_dir / "metrics.json");
  return nlohmann::json::parse(in);
}

}  // namespace

TEST(Evaluate, SourceAsItsOwnResultScoresPerfectlyWithSyncFigures) {
  const dinet::test::TempDir dir;
  const nlohmann::json metrics = evaluate_source_as_result(dir, 3.0);
  const auto& v = metrics["videos"][0];
  ASSERT_FALSE(v.contains("error")) << v.dump();
  EXPECT_EQ(v["frames"], 75);
  EXPECT_GE(v["psnr_face"].get<double>(), 99.0);
  EXPECT_NEAR(v["ssim_mouth"].get<double>(), 1.0, 1e-6);
  EXPECT_NEAR(v["lmd"].get<double>(), 0.0, 1e-6);
  EXPECT_NEAR(v["lmd_iod"].get<double>(), 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(v["seam_ratio"].get<double>(), 1.0);
  EXPECT_EQ(v["colour_shift_lab"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(v["mouth_sharpness_ratio"].get<double>(), 1.0);
  EXPECT_TRUE(v.contains("sync_offset"));
  EXPECT_EQ(v["sync_score_by_offset"].size(), 15u);  // -7..7
}

TEST(Evaluate, ClipTooShortForTheOffsetScanKeepsItsImageFigures) {
  const dinet::test::TempDir dir;
  const nlohmann::json metrics = evaluate_source_as_result(dir, 0.6);
  const auto& v = metrics["videos"][0];
  ASSERT_FALSE(v.contains("error")) << v.dump();
  EXPECT_GE(v["psnr_face"].get<double>(), 99.0);
  EXPECT_FALSE(v.contains("sync_offset"));
  EXPECT_NE(v["note"].get<std::string>().find("lip-sync"), std::string::npos);
}
