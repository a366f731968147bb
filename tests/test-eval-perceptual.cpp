// LPIPS, the FID Inception and the Fréchet distance of `dinet evaluate`. The networks are
// checked against PyTorch on weight files with random values in the published key layouts
// (tests/perceptual_reference.py, where a python3 with torch exists); the Fréchet distance
// against its closed form for diagonal covariances.
#include <ATen/ATen.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/evaluate.h"
#include "dinet/torch_file.h"
#include "eval/fid_inception.h"
#include "eval/frechet.h"
#include "eval/lpips.h"
#include "infer_test_support.h"
#include "python_support.h"

namespace fs = std::filesystem;
using dinet::test::TempDir;

namespace {

using dinet::test::error_of;

// max |a - b| relative to max |b|: float32 on both sides, summed in different orders.
double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}
constexpr double kTolerance = 1e-4;

}  // namespace

// ---- Fréchet distance ---------------------------------------------------------------------

TEST(FrechetDistance, MatchesTheClosedFormForDiagonalGaussians) {
  // d = |mu1 - mu2|^2 + sum_i (s1_i + s2_i - 2 sqrt(s1_i s2_i))
  const at::Tensor mu1 = at::tensor({0.0, 1.0, -2.0, 0.5}, at::kDouble);
  const at::Tensor mu2 = at::tensor({1.0, 1.0, 0.0, 0.0}, at::kDouble);
  const at::Tensor s1 = at::tensor({1.0, 4.0, 0.25, 2.0}, at::kDouble);
  const at::Tensor s2 = at::tensor({9.0, 1.0, 0.25, 0.5}, at::kDouble);
  const double expected =
      (mu1 - mu2).pow(2).sum().item<double>() + (s1 + s2 - 2 * (s1 * s2).sqrt()).sum().item<double>();
  const double d = dinet::eval::frechet_distance({mu1, at::diag(s1)}, {mu2, at::diag(s2)});
  EXPECT_NEAR(d, expected, 1e-12);  // 1 + 0 + 4 + 0.25 (means) + 4 + 1 + 0 + 0.5 (covariances)

  // The same Gaussians in a rotated basis are the same distance apart.
  const at::Tensor q = std::get<0>(at::linalg_qr(at::randn({4, 4}, at::kDouble)));
  const auto rotate = [&](const at::Tensor& s) { return at::matmul(at::matmul(q, at::diag(s)), q.t()); };
  EXPECT_NEAR(dinet::eval::frechet_distance({at::matmul(q, mu1), rotate(s1)}, {at::matmul(q, mu2), rotate(s2)}),
              expected, 1e-9);
}

TEST(FrechetDistance, StatisticsAreNumpysMeanAndUnbiasedCovariance) {
  const at::Tensor x = at::tensor({1.0, 2.0, 3.0, 6.0, 5.0, 10.0}, at::kFloat).view({3, 2});
  const auto stats = dinet::eval::feature_statistics(x);
  EXPECT_TRUE(at::allclose(stats.mean, at::tensor({3.0, 6.0}, at::kDouble)));
  // columns (1,3,5) and (2,6,10): variances 4 and 16, covariance 8
  EXPECT_TRUE(at::allclose(stats.covariance, at::tensor({4.0, 8.0, 8.0, 16.0}, at::kDouble).view({2, 2})));
  EXPECT_NEAR(dinet::eval::frechet_distance(stats, stats), 0.0, 1e-9);
  EXPECT_THROW(dinet::eval::feature_statistics(x.slice(0, 0, 1)), dinet::Error);
}

TEST(FrechetDistance, FewVectorsTakeTheSmallSideWithTheSameResult) {
  at::manual_seed(3);
  const at::Tensor a = at::randn({20, 50}, at::kDouble), b = at::randn({30, 50}, at::kDouble) * 1.5 + 0.2;
  const double from_statistics = dinet::eval::frechet_distance(dinet::eval::feature_statistics(a),
                                                               dinet::eval::feature_statistics(b));
  // The D x D path takes square roots of the ~30 eigenvalues that are zero but for rounding
  // (rank <= 19 of 50): about 1e-7 each, hence the tolerance.
  EXPECT_NEAR(dinet::eval::frechet_distance(a, b), from_statistics, 1e-7 * from_statistics);
  EXPECT_NEAR(dinet::eval::frechet_distance(a, a), 0.0, 1e-9);
}

// ---- weight files that do not fit (no Python needed) ------------------------------------------

TEST(PerceptualWeights, MissingFilesAreNamed) {
  EXPECT_NE(error_of([] { dinet::eval::load_lpips("/nonexistent/alex.pth", "/nonexistent/alexnet.pth"); })
                .find("/nonexistent/alexnet.pth: no such LPIPS backbone file"),
            std::string::npos);
  EXPECT_NE(error_of([] { dinet::eval::load_fid_inception("/nonexistent/pt_inception.pth"); })
                .find("/nonexistent/pt_inception.pth: no such FID Inception weights file"),
            std::string::npos);
}

TEST(PerceptualWeights, AShapeMismatchNamesTheFileAndTheKey) {
  const TempDir dir;
  dinet::eval::Lpips net(dinet::eval::LpipsBackbone::alex);
  dinet::save_torch_file(dir / "alexnet.pth",
                         dinet::state_dict_value(dinet::module_state_dict(net->backbone_weights())));
  dinet::StateDict heads = dinet::module_state_dict(net->head_weights());
  heads.back().second = at::zeros({1, 255, 1, 1});  // lin4 takes 256 channels
  dinet::save_torch_file(dir / "alex.pth", dinet::state_dict_value(heads));
  const std::string message = error_of([&] { dinet::eval::load_lpips(dir / "alex.pth", dir / "alexnet.pth"); });
  EXPECT_NE(message.find((dir / "alex.pth").string() + ": "), std::string::npos) << message;
  EXPECT_NE(message.find("lin4.model.1.weight"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(PerceptualWeights, TheCommandChecksWeightsBeforeAnyVideo) {
  const TempDir dir;
  fs::create_directories(dir / "results");
  fs::create_directories(dir / "sources");
  std::ofstream(dir / "results" / "clip.mp4") << "not read";
  const std::string common = " evaluate --result_dir " + (dir / "results").string() + " --test_video_dir " +
                             (dir / "sources").string() + " --res_dir " + (dir / "report").string();
  auto run = dinet::test::run_dinet(common + " --fid_weights " + (dir / "missing.pth").string());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find((dir / "missing.pth").string() + ": no such FID Inception weights file"),
            std::string::npos)
      << run.output;
  run = dinet::test::run_dinet(common + " --lpips_weights " + (dir / "alex.pth").string());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("--lpips_backbone: required with --lpips_weights"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(dir / "report"));
}

// ---- against PyTorch -----------------------------------------------------------------------

class PerceptualReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    python_ = dinet::test::python_with("torch");
    if (python_.empty()) return;
    dir_ = new TempDir;
    script_ = dinet::test::run_shell(python_ + " " +
                                     (dinet::test::source_dir() / "tests" / "perceptual_reference.py").string() +
                                     " " + dir_->path().string());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (python_.empty()) GTEST_SKIP() << "no python3 with 'torch' here: skipping a PyTorch comparison";
    ASSERT_EQ(script_.exit_code, 0) << script_.output;
    inputs_ = dinet::load_torch_file(*dir_ / "inputs.pt");
    expected_ = dinet::load_torch_file(*dir_ / "expected.pt");
  }
  const at::Tensor& input(const char* name) const { return inputs_.at(name).as_tensor(); }
  const at::Tensor& expected(const char* name) const { return expected_.at(name).as_tensor(); }
  static fs::path file(const char* name) { return *dir_ / name; }

  static inline std::string python_;
  static inline TempDir* dir_ = nullptr;
  static inline dinet::test::CommandResult script_;
  dinet::TorchValue inputs_, expected_;
};

TEST_F(PerceptualReference, LpipsWithAlexNetMatchesPyTorch) {
  torch::NoGradGuard no_grad;
  auto net = dinet::eval::load_lpips(file("alex.pth"), file("alexnet.pth"));
  EXPECT_EQ(net->backbone(), dinet::eval::LpipsBackbone::alex);
  const at::Tensor d = net->forward(input("a"), input("b"));
  EXPECT_LT(relative_difference(d, expected("lpips_alex")), kTolerance) << d << expected("lpips_alex");
  EXPECT_LT(net->forward(input("a"), input("a")).abs().max().item<double>(), 1e-7);
}

TEST_F(PerceptualReference, LpipsWithVgg16MatchesPyTorch) {
  torch::NoGradGuard no_grad;
  auto net = dinet::eval::load_lpips(file("vgg.pth"), file("vgg16.pth"));
  EXPECT_EQ(net->backbone(), dinet::eval::LpipsBackbone::vgg16);
  const at::Tensor d = net->forward(input("a"), input("b"));
  EXPECT_LT(relative_difference(d, expected("lpips_vgg16")), kTolerance) << d << expected("lpips_vgg16");
}

TEST_F(PerceptualReference, FidInceptionPool3MatchesPyTorch) {
  torch::NoGradGuard no_grad;
  const at::Tensor features = dinet::eval::load_fid_inception(file("pt_inception.pth"))->forward(input("faces"));
  ASSERT_EQ(features.sizes(), expected("pool3").sizes());
  EXPECT_LT(relative_difference(features, expected("pool3")), kTolerance);
}

TEST_F(PerceptualReference, FilesGivenInTheWrongPlaceAreNamed) {
  std::string m = error_of([] { dinet::eval::load_lpips(file("alexnet.pth"), file("alexnet.pth")); });
  EXPECT_NE(m.find(file("alexnet.pth").string() + ": no lin1.model.1.weight: not the lpips package's linear heads"),
            std::string::npos) << m;
  m = error_of([] { dinet::eval::load_lpips(file("vgg.pth"), file("alexnet.pth")); });
  EXPECT_NE(m.find(file("vgg.pth").string() + ": "), std::string::npos) << m;
  EXPECT_NE(m.find("heads for another backbone"), std::string::npos) << m;
  m = error_of([] { dinet::eval::load_lpips(file("alex.pth"), file("alex.pth")); });
  EXPECT_NE(m.find(file("alex.pth").string() + ": no features.0.weight"), std::string::npos) << m;
  m = error_of([] { dinet::eval::load_fid_inception(file("alexnet.pth")); });
  EXPECT_NE(m.find(file("alexnet.pth").string() + ": no Mixed_7c.branch_pool.conv.weight"), std::string::npos) << m;
}

// The source as its own result: LPIPS and FID are zero (up to rounding), and reported.
TEST_F(PerceptualReference, EvaluateReportsLpipsAndFidOfTheSourceAgainstItself) {
  const TempDir dir;
  dinet::EvaluateOptions options = dinet::test::self_evaluation(dir.path(), 0.4);
  options.lpips_weights = file("alex.pth");
  options.lpips_backbone = file("alexnet.pth");
  options.fid_weights = file("pt_inception.pth");
  const dinet::Evaluation evaluation = dinet::evaluate_results(options);
  dinet::write_evaluation_report(options.output_dir, evaluation, options);
  const auto json = nlohmann::json::parse(std::ifstream(options.output_dir / "metrics.json"));
  const auto& v = json["videos"][0];
  ASSERT_FALSE(v.contains("error")) << v.dump();
  EXPECT_NEAR(v["lpips_face"].get<double>(), 0.0, 1e-6);
  EXPECT_NEAR(v["lpips_mouth"].get<double>(), 0.0, 1e-6);
  EXPECT_TRUE(v["fid"].is_null());  // 10 frames: below kMinFramesForVideoFid
  EXPECT_EQ(json["lpips"]["backbone"], "alex");
  EXPECT_EQ(json["fid"]["frames"], v["frames"]);
  EXPECT_NEAR(json["fid"]["value"].get<double>(), 0.0, 1e-3);
}
