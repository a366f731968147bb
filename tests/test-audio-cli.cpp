// `dinet features` as a user runs it.
#include <fstream>

#include "deepspeech_synthetic.h"
#include "dinet/audio_features.h"
#include "test_support.h"

namespace {

std::string real_wav() {
  return (dinet::test::shared_dir() / "data" / "real" / "sadtalker_RD_Radio31_000.wav").string();
}

}  // namespace

TEST(FeaturesCommand, MelToNpy) {
  DINET_REQUIRE_SHARED();
  dinet::test::TempDir dir;
  const auto out = dir / "speech_mel.npy";
  const auto r = dinet::test::run_dinet("features " + real_wav() + " --type mel -o " +
                                        out.string() + " --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("200 frames x 320 channels"), std::string::npos) << r.output;
  EXPECT_EQ(dinet::read_feature_file(out, 200, 320).size(0), 200);
}

TEST(FeaturesCommand, DeepSpeechToPublishedText) {
  DINET_REQUIRE_SHARED();
  dinet::test::TempDir dir;
  dinet::test::write_graph(dir / "output_graph.pb", dinet::test::random_weights(8, 8, 8, 4, 8, 1));
  const auto out = dir / "speech_deepspeech.txt";
  const auto r = dinet::test::run_dinet("features " + real_wav() + " --type deepspeech " +
                                        "--deepspeech_model " + (dir / "output_graph.pb").string() +
                                        " -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(dinet::read_feature_file(out, 200, 29).size(1), 29);
}

TEST(FeaturesCommand, DeepSpeechWithoutModelSaysWhy) {
  DINET_REQUIRE_SHARED();
  dinet::test::TempDir dir;
  const auto r = dinet::test::run_dinet("features " + real_wav() + " --type deepspeech -o " +
                                        (dir / "x.txt").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("not redistributable"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'mel'"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(FeaturesCommand, BadOutputAndInput) {
  dinet::test::TempDir dir;
  auto r = dinet::test::run_dinet("features in.wav --type mel -o " + (dir / "x.csv").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(".txt (numpy savetxt) or .npy"), std::string::npos) << r.output;
  r = dinet::test::run_dinet("features " + (dir / "absent.wav").string() + " --type mel -o " +
                             (dir / "x.npy").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("absent.wav"), std::string::npos) << r.output;
  r = dinet::test::run_dinet("features in.wav --type wav2vec -o x.npy");
  EXPECT_NE(r.exit_code, 0);
}

TEST(FeaturesCommand, RefusesAnExistingOutputWithoutForce) {
  DINET_REQUIRE_SHARED();
  dinet::test::TempDir dir;
  const auto out = dir / "mine.npy";
  { std::ofstream(out) << "the user's file"; }
  auto r = dinet::test::run_dinet("features " + real_wav() + " --type mel -o " + out.string() + " --threads 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("exists (use --force"), std::string::npos) << r.output;
  EXPECT_EQ(std::filesystem::file_size(out), 15u);
  r = dinet::test::run_dinet("features " + real_wav() + " --type mel -o " + out.string() + " --force --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(dinet::read_feature_file(out, 200, 320).size(0), 200);
}
