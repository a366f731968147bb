// dinet launch as a user runs it: the command runs once per process, each line comes back
// with its rank in front, and a failure's exit status becomes the launch's. (Training
// through it is tested in test-train-distributed.)
#include "test_support.h"

namespace {

using dinet::test::run_dinet;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CliLaunch, RunsTheCommandOncePerRankWithTheRankInFront) {
  const auto r = run_dinet("launch -n 3 -- --version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* line : {"[rank 0] dinet 0.1.0\n", "[rank 1] dinet 0.1.0\n", "[rank 2] dinet 0.1.0\n"})
    EXPECT_TRUE(contains(r.output, line)) << r.output;
}

TEST(CliLaunch, AFailingCommandFailsTheLaunch) {
  const auto r = run_dinet("launch -n 2 -- forward --no-such-option");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "failed (exit status")) << r.output;
}

TEST(CliLaunch, NeedsACommandAndAPortForSeveralMachines) {
  auto r = run_dinet("launch -n 2");
  EXPECT_NE(r.exit_code, 0) << r.output;
  r = run_dinet("launch --nnodes 2 --node_rank 1 -n 1 -- --version");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "--master_port")) << r.output;
}

}  // namespace
