// Feature files (the published `_deepspeech.txt`, .npy, external features) and feature specs.
#include <ATen/ATen.h>

#include <fstream>

#include "dinet/audio_features.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/npy.h"
#include "test_support.h"

namespace {

using dinet::test::error_of;

}  // namespace

TEST(FeatureFiles, TextIsWrittenExactlyAsNumpySavetxt) {
  dinet::test::TempDir dir;
  const at::Tensor f = at::tensor({1.0f, -0.5f, 0.1f, 0.0f, 3e-7f, -12345.678f}).reshape({2, 3});
  dinet::write_feature_file(dir / "a_deepspeech.txt", f);
  // What numpy 1.24 savetxt writes for the same float32 array.
  EXPECT_EQ(dinet::read_file(dir / "a_deepspeech.txt"),
            "1.000000000000000000e+00 -5.000000000000000000e-01 1.000000014901161194e-01\n"
            "0.000000000000000000e+00 3.000000106112565845e-07 -1.234567773437500000e+04\n");
  EXPECT_TRUE(at::equal(dinet::read_feature_file(dir / "a_deepspeech.txt"), f));
}

TEST(FeatureFiles, TextInOtherFloatFormats) {
  dinet::test::TempDir dir;
  std::ofstream(dir / "b.txt") << "# comment\n1.5\t-2 +3e1\r\n\n4,5,6  # trailing\n";
  const at::Tensor f = dinet::read_feature_file(dir / "b.txt", 2, 3);
  EXPECT_TRUE(at::equal(f, at::tensor({1.5f, -2.0f, 30.0f, 4.0f, 5.0f, 6.0f}).reshape({2, 3})));
}

TEST(FeatureFiles, NpyRoundTrip) {
  dinet::test::TempDir dir;
  const at::Tensor f = at::randn({7, 320});
  dinet::write_feature_file(dir / "f.npy", f);
  EXPECT_TRUE(at::equal(dinet::read_feature_file(dir / "f.npy", 7, 320), f));
  dinet::write_npy(dir / "flat.npy", at::randn({7}));
  EXPECT_NE(error_of([&] { dinet::read_feature_file(dir / "flat.npy"); }).find("2-D"),
            std::string::npos);
}

TEST(FeatureFiles, ErrorsNameTheFileAndTheProblem) {
  dinet::test::TempDir dir;
  const auto file = dir / "v_deepspeech.txt";
  std::ofstream(file) << "1 2 3\n4 5 6\n7 8\n";
  std::string msg = error_of([&] { dinet::read_feature_file(file); });
  EXPECT_NE(msg.find(file.string() + ": line 3 has 2 values"), std::string::npos) << msg;

  std::ofstream(file) << "1 2 3\n4 x 6\n";
  msg = error_of([&] { dinet::read_feature_file(file); });
  EXPECT_NE(msg.find("line 2: not a finite float32 number: 'x"), std::string::npos) << msg;
  for (const char* damaged : {"inf", "nan", "1e39"}) {
    std::ofstream(file) << "1 2 3\n4 " << damaged << " 6\n";
    msg = error_of([&] { dinet::read_feature_file(file); });
    EXPECT_NE(msg.find("line 2: not a finite float32 number: '" + std::string(damaged)), std::string::npos) << msg;
  }

  dinet::write_feature_file(file, at::zeros({199, 29}));
  msg = error_of([&] { dinet::read_feature_file(file, 200, 29); });
  EXPECT_NE(msg.find(file.string() + ": 199 feature rows but the video has 200 frames"),
            std::string::npos)
      << msg;
  msg = error_of([&] { dinet::read_feature_file(file, 199, 320); });
  EXPECT_NE(msg.find("29 values per row, expected 320"), std::string::npos) << msg;

  std::ofstream(dir / "empty.txt") << "\n# nothing\n";
  EXPECT_NE(error_of([&] { dinet::read_feature_file(dir / "empty.txt"); }).find("no feature rows"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dinet::read_feature_file(dir / "x.csv"); }).find(".txt"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dinet::read_feature_file(dir / "absent.txt"); }).find("absent.txt"),
            std::string::npos);
}

TEST(FeatureSpecs, BuiltInsAndMismatch) {
  EXPECT_EQ(dinet::audio_feature_spec("deepspeech"), (dinet::AudioFeatureSpec{"deepspeech", 29}));
  EXPECT_EQ(dinet::audio_feature_spec("mel"), (dinet::AudioFeatureSpec{"mel", 320}));
  EXPECT_NE(error_of([] { dinet::audio_feature_spec("wav2vec"); }).find("deepspeech, mel"),
            std::string::npos);
  EXPECT_NO_THROW(dinet::require_same_feature({"mel", 320}, {"mel", 320}, "m.pth"));
  const std::string msg = error_of(
      [] { dinet::require_same_feature({"deepspeech", 29}, {"mel", 320}, "clip_training.pth"); });
  EXPECT_NE(msg.find("clip_training.pth: the model was trained on deepspeech (29 channels)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("mel (320 channels)"), std::string::npos) << msg;
  EXPECT_THROW(dinet::require_same_feature({"external", 64}, {"external", 32}, "x"), dinet::Error);
}
