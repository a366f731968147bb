// OpenFace landmark CSV: round trip, the published loader's positional reading, real
// OpenFace layouts, and errors that name the file and the line.
#include <fstream>
#include <sstream>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/landmarks.h"
#include "face_synthetic.h"
#include "test_support.h"

using namespace dinet;
using dinet::test::TempDir;

namespace {

LandmarkTrack sample_track(int frames) {
  LandmarkTrack track;
  for (int t = 0; t < frames; ++t) {
    track.frames.push_back(test::synthetic_face(250.25f + t, 260.5f, 200, t % 3 / 2.f));
    track.success.push_back(t == 2 ? 0 : 1);
    track.confidence.push_back(t == 2 ? 0.f : 0.875f);
  }
  return track;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) out.push_back(field);
  return out;
}

// The published `load_landmark_openface`: csv.reader rows after the header, frame numbers
// 1..N, x in columns 5..72 and y in 73..140, float() of each (leading spaces allowed), then
// astype(int) by the caller.
std::vector<std::array<cv::Point, 68>> published_load(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::array<cv::Point, 68>> frames;
  while (std::getline(in, line)) {
    const auto row = split(line);
    EXPECT_EQ(int(std::stod(row[0])), int(frames.size()) + 1);
    std::array<cv::Point, 68> f;
    for (int k = 0; k < 68; ++k) f[k] = {int(std::stod(row[5 + k])), int(std::stod(row[73 + k]))};
    frames.push_back(f);
  }
  return frames;
}

// A CSV laid out like OpenFace 2's FeatureExtraction output: other columns first and after,
// landmarks not at the published positions.
std::string openface_like(int frames, int bad_line = -1) {
  std::string text = "frame, face_id, timestamp, confidence, success, gaze_0_x, gaze_0_y";
  for (char axis : {'x', 'y'})
    for (int k = 0; k < 68; ++k) text += ", " + std::string(1, axis) + "_" + std::to_string(k);
  text += ", X_0, pose_Tx\n";
  for (int t = 0; t < frames; ++t) {
    text += std::to_string(t + 1) + ", 0, " + std::to_string(t * 0.04) + ", 0.98, " +
            (t == 1 ? "0" : "1") + ", 0.1, -0.2";
    for (int axis = 0; axis < 2; ++axis)
      for (int k = 0; k < 68; ++k) text += ", " + std::to_string(axis ? 300 + k : 100 + k + t) + ".5";
    text += t + 2 == bad_line ? ", 12.0\n" : ", 12.0, -3.5\n";
  }
  return text;
}

std::string replaced(const std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("test text lacks " + from);
  return text.substr(0, at) + to + text.substr(at + from.size());
}

std::string error_of(const std::filesystem::path& path, std::optional<int64_t> expected = std::nullopt) {
  try {
    read_openface_csv(path, expected);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(OpenFaceCsv, RoundTripKeepsSubPixelLandmarksAndFlags) {
  TempDir dir;
  const LandmarkTrack track = sample_track(5);
  write_openface_csv(dir / "v.csv", track);
  const LandmarkTrack back = read_openface_csv(dir / "v.csv", 5);
  ASSERT_EQ(back.size(), 5u);
  for (size_t t = 0; t < 5; ++t) {
    EXPECT_EQ(back.success[t], track.success[t]);
    EXPECT_FLOAT_EQ(back.confidence[t], track.confidence[t]);
    for (int k = 0; k < 68; ++k) {
      EXPECT_NEAR(back.frames[t][k].x, track.frames[t][k].x, 5e-4);
      EXPECT_NEAR(back.frames[t][k].y, track.frames[t][k].y, 5e-4);
    }
  }
}

TEST(OpenFaceCsv, HeaderIsOpenFaceSpellingAndThePublishedLoaderReadsItByPosition) {
  TempDir dir;
  const LandmarkTrack track = sample_track(4);
  write_openface_csv(dir / "v.csv", track);
  std::ifstream in(dir / "v.csv");
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("frame, face_id, timestamp, confidence, success, x_0, x_1, ", 0), 0u);
  EXPECT_EQ(split(header).size(), 5u + 136u);
  const auto frames = published_load(dir / "v.csv");
  ASSERT_EQ(frames.size(), 4u);
  for (size_t t = 0; t < 4; ++t)
    for (int k = 0; k < 68; ++k) {
      EXPECT_EQ(frames[t][k].x, int(track.frames[t][k].x));
      EXPECT_EQ(frames[t][k].y, int(track.frames[t][k].y));
    }
}

TEST(OpenFaceCsv, ReadsRealOpenFaceColumnsByName) {
  TempDir dir;
  write_file_atomic(dir / "of.csv", openface_like(3));
  const LandmarkTrack track = read_openface_csv(dir / "of.csv");
  ASSERT_EQ(track.size(), 3u);
  EXPECT_FLOAT_EQ(track.frames[2][0].x, 102.5f);
  EXPECT_FLOAT_EQ(track.frames[2][67].y, 367.5f);
  EXPECT_EQ(track.success[1], 0);  // success-0 rows are flagged, not dropped
  EXPECT_EQ(track.success[2], 1);
  EXPECT_FLOAT_EQ(track.confidence[0], 0.98f);
}

TEST(OpenFaceCsv, MalformedFilesNameTheFileAndTheLine) {
  TempDir dir;
  const auto path = dir / "bad.csv";
  const std::string p = path.string();

  write_file_atomic(path, openface_like(4, 3));
  EXPECT_EQ(error_of(path), p + ": line 3: 144 fields where the header has 145");

  write_file_atomic(path, replaced(openface_like(3), "\n3, 0,", "\n4, 0,"));
  EXPECT_EQ(error_of(path), p + ": line 4: frame 4 where 3 was expected (frames must be numbered "
                                "from 1 without gaps)");

  write_file_atomic(path, replaced(openface_like(3), ", 101.5", ", abc"));
  EXPECT_EQ(error_of(path), p + ": line 2: column 'x_1': 'abc' is not a finite number");
  write_file_atomic(path, replaced(openface_like(3), ", 101.5", ", nan"));
  EXPECT_EQ(error_of(path), p + ": line 2: column 'x_1': 'nan' is not a finite number");

  write_file_atomic(path, replaced(openface_like(2), ", y_7,", ","));
  EXPECT_NE(error_of(path).find(p + ": line 1: no column 'y_7'"), std::string::npos);

  write_file_atomic(path, openface_like(3));
  EXPECT_EQ(error_of(path, 5), p + ": 3 frames where the video has 5");

  write_file_atomic(path, "");
  EXPECT_EQ(error_of(path), p + ": empty file, no CSV header");
  write_file_atomic(path, openface_like(0));
  EXPECT_EQ(error_of(path), p + ": no frames after the header");
  EXPECT_NE(error_of(dir / "missing.csv").find("missing.csv: no such file"), std::string::npos);
}
