// The executable as a user meets it: help, errors, exit codes.
#include "test_support.h"

TEST(Cli, HelpListsCommands) {
  auto r = dinet::test::run_dinet("--help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("forward"), std::string::npos) << r.output;
}
