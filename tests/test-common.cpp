#include <fstream>

#include "dinet/error.h"
#include "dinet/files.h"
#include "test_support.h"

using dinet::test::TempDir;

TEST(AtomicFile, CommitRenamesAndLeavesNoTemporary) {
  TempDir dir;
  const auto target = dir / "out.bin";
  dinet::write_file_atomic(target, "hello");
  EXPECT_EQ(dinet::read_file(target), "hello");
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFile, WithoutCommitNothingAppears) {
  TempDir dir;
  const auto target = dir / "out.mp4";
  {
    dinet::AtomicFile file(target);
    EXPECT_EQ(file.temp_path().extension(), ".mp4");
    std::ofstream(file.temp_path()) << "partial";
  }
  EXPECT_FALSE(std::filesystem::exists(target));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Files, MissingFileErrorNamesThePath) {
  try {
    dinet::read_file("/nonexistent/x.pth");
    FAIL();
  } catch (const dinet::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.pth"), std::string::npos);
  }
}

