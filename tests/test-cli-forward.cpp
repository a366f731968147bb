// `dinet forward` as a user runs it: outputs agree with the published networks on the
// parity fixtures, and bad inputs give one clear line naming the file.
#include <torch/torch.h>

#include "dinet/npy.h"
#include "test_support.h"

namespace {

std::string fixture(const std::string& name) {
  return (dinet::test::shared_dir() / "fixtures" / "parity64" / name).string();
}

double max_diff(const std::string& actual_file, const std::string& expected_fixture) {
  const at::Tensor actual = dinet::read_npy(actual_file);
  const at::Tensor expected = dinet::read_npy(fixture(expected_fixture));
  EXPECT_EQ(actual.sizes(), expected.sizes()) << expected_fixture;
  if (actual.sizes() != expected.sizes()) return INFINITY;
  return (actual - expected).abs().max().item<double>();
}

std::string dinet_inputs() {
  return fixture("dinet_source.npy") + "," + fixture("dinet_reference.npy") + "," +
         fixture("dinet_audio.npy");
}

TEST(CliForward, DINetEvalAndTrainMatchPublished) {
  DINET_REQUIRE_SHARED();
  dinet::test::TempDir dir;
  for (const std::string mode : {"eval", "train"}) {
    const std::string out = (dir / ("out_" + mode + ".npy")).string();
    const auto r = dinet::test::run_dinet("forward --model dinet --checkpoint " +
                                          fixture("dinet.pth") + " --inputs " + dinet_inputs() +
                                          " --output " + out + " --mode " + mode + " --threads 2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_LT(max_diff(out, "dinet_out_" + mode + ".npy"), 1e-4) << mode;
  }
}

TEST(CliForward, SyncNetAndDiscriminatorMatchPublished) {
  DINET_REQUIRE_SHARED();
  dinet::test::TempDir dir;
  const std::string sync_out = (dir / "sync.npy").string();
  auto r = dinet::test::run_dinet("forward --model syncnet --checkpoint " + fixture("syncnet.pth") +
                                  " --inputs " + fixture("syncnet_image.npy") + "," +
                                  fixture("syncnet_audio.npy") + " --output " + sync_out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(max_diff(sync_out, "syncnet_out.npy"), 1e-4);

  const std::string disc_out = (dir / "disc.npy").string();
  r = dinet::test::run_dinet("forward --model discriminator --checkpoint " +
                             fixture("discriminator.pth") + " --inputs " +
                             fixture("disc_input.npy") + " --output " + disc_out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(max_diff(disc_out, "disc_out.npy"), 1e-4);
}

// A failed run exits 1 with one "dinet: error:" line that names `file` and writes nothing.
void expect_error_naming(const std::string& inputs, const std::string& file,
                         const std::string& model = "dinet", const std::string& checkpoint = "dinet.pth") {
  dinet::test::TempDir dir;
  const auto out = dir / "out.npy";
  const auto r = dinet::test::run_dinet("forward --model " + model + " --checkpoint " +
                                        fixture(checkpoint) + " --inputs " + inputs +
                                        " --output " + out.string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.rfind("dinet: error: ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find(file), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(CliForward, WrongShapesAreOneLineErrorsNamingTheFile) {
  DINET_REQUIRE_SHARED();
  dinet::test::TempDir dir;
  const std::string source = fixture("dinet_source.npy"), refs = fixture("dinet_reference.npy"),
                    audio = fixture("dinet_audio.npy");
  // References where the source belongs: 15 channels instead of 3.
  expect_error_naming(refs + "," + refs + "," + audio, refs);

  const std::string odd_size = (dir / "odd_size.npy").string();
  dinet::write_npy(odd_size, torch::rand({2, 3, 100, 80}));
  expect_error_naming(odd_size + "," + refs + "," + audio, odd_size);

  const std::string one_sample = (dir / "one_sample.npy").string();
  dinet::write_npy(one_sample, torch::randn({1, 29, 5}));
  expect_error_naming(source + "," + refs + "," + one_sample, one_sample);

  const std::string other_features = (dir / "other_features.npy").string();
  dinet::write_npy(other_features, torch::randn({2, 80, 5}));
  expect_error_naming(source + "," + refs + "," + other_features, other_features);

  expect_error_naming(source + "," + refs, "--inputs");
  expect_error_naming(refs, refs, "discriminator", "discriminator.pth");
  expect_error_naming(fixture("syncnet_image.npy") + "," + audio, audio, "syncnet", "syncnet.pth");
}

TEST(CliForward, WrongCheckpointNamesTheFile) {
  DINET_REQUIRE_SHARED();
  expect_error_naming(dinet_inputs(), fixture("syncnet.pth"), "dinet", "syncnet.pth");
}

}  // namespace
