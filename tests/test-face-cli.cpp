// `dinet landmarks` as a user runs it: the CSV it writes, its summary, its errors.
#include <algorithm>

#include "dinet/face.h"
#include "dinet/landmarks.h"
#include "test_support.h"

using namespace dinet;

namespace {

#define REQUIRE_BINARY_AND_MODEL()                                                  \
  do {                                                                              \
    DINET_REQUIRE_SHARED();                                                         \
    if (!std::filesystem::exists(test::dinet_binary()))                             \
      GTEST_SKIP() << test::dinet_binary() << " is not built (target dinet_exe)";   \
    if (!std::filesystem::exists(default_landmark_model()))                          \
      GTEST_SKIP() << default_landmark_model() << " is absent (Debian: libdlib-data)"; \
  } while (0)

}  // namespace

TEST(LandmarksCommand, WritesAnOpenFaceCsvBesideTheVideoAndSummarises) {
  REQUIRE_BINARY_AND_MODEL();
  test::TempDir dir;
  const auto video = dir / "clip.mp4";
  std::filesystem::copy_file(test::shared_dir() / "data/real/videoretalking_face_2.mp4", video);

  const auto run = test::run_dinet("landmarks '" + video.string() + "' --threads 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("125 frames, face found on 125 (100.0%)"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("jitter"), std::string::npos) << run.output;
  const LandmarkTrack track = read_openface_csv(dir / "clip.csv", 125);
  EXPECT_EQ(std::count(track.success.begin(), track.success.end(), 1), 125);

  // An existing CSV (perhaps the user's own OpenFace output) is kept unless --force.
  const auto again = test::run_dinet("landmarks '" + video.string() + "'");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.output.find((dir / "clip.csv").string() + ": exists (use --force"), std::string::npos)
      << again.output;
}

TEST(LandmarksCommand, MissingInputsAreOneLineErrors) {
  REQUIRE_BINARY_AND_MODEL();
  test::TempDir dir;
  const auto missing = test::run_dinet("landmarks '" + (dir / "none.mp4").string() + "'");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("dinet: error: " + (dir / "none.mp4").string() + ": no such video"),
            std::string::npos)
      << missing.output;

  const auto video = dir / "clip.mp4";
  std::filesystem::copy_file(test::shared_dir() / "data/real/videoretalking_face_2.mp4", video);
  const auto no_model =
      test::run_dinet("landmarks '" + video.string() + "' --landmark_model '" + (dir / "sp.dat").string() + "'");
  EXPECT_EQ(no_model.exit_code, 1);
  EXPECT_NE(no_model.output.find((dir / "sp.dat").string() + ": no such landmark model"), std::string::npos)
      << no_model.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "clip.csv"));
}
