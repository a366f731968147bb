// The server's page in a real browser (headless Chromium driven by tests/browser_page.py):
// a video dubbed through the form plays in the page.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "infer_test_support.h"
#include "serve_test_support.h"

namespace dinet::test {
namespace {
namespace fs = std::filesystem;

// Why the browser cannot run here, or "" when it can.
std::string browser_missing() {
  for (const char* file : {"/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3"})
    if (!fs::exists(file)) return std::string(file) + " is missing (make deps installs it, as root)";
  if (std::system("/usr/bin/python3 -c 'import selenium' 2>/dev/null") != 0)
    return "python3-selenium is missing (make deps installs it, as root)";
  return "";
}

CommandResult run_browser(const std::string& args) {
  const std::string command = "/usr/bin/python3 " + (source_dir() / "tests" / "browser_page.py").string() + " " + args + " 2>&1";
  CommandResult result{0, ""};
  FILE* pipe = ::popen(command.c_str(), "r");
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) result.output.append(buf, n);
  result.exit_code = WEXITSTATUS(::pclose(pipe));
  return result;
}

// browser_page.py's last line: what it saw, as JSON (printed, so the ctest log keeps the figures).
nlohmann::json what_the_browser_saw(std::string output) {
  while (!output.empty() && output.back() == '\n') output.pop_back();
  const auto seen = nlohmann::json::parse(output.substr(output.rfind('\n') + 1));
  std::printf("browser saw: %s\n", seen.dump().c_str());
  return seen;
}

TEST(ServePage, DubThroughTheFormAndWatchTheResult) {
  if (const std::string why = browser_missing(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  const fs::path model = save_random_model(dir / "model.pth", 64, audio_feature_spec("mel"));
  const SynthClip clip = make_synth_clip(dir / "synth", 2.0);
  const fs::path audio = write_tone(dir / "speech.wav", 2.0);
  ServerProcess server("--model_path " + model.string() + " --jobs_dir " + (dir / "jobs").string() + " --threads 1",
                       dir / "server.log");
  ASSERT_GT(server.port(), 0) << server.output();
  // DINET_SCREENSHOT=path keeps a picture of the page (the README's comes from here).
  const char* screenshot = std::getenv("DINET_SCREENSHOT");
  const CommandResult r = run_browser("http://127.0.0.1:" + std::to_string(server.port()) + "/ --video " +
                                      clip.video.string() + " --audio " + audio.string() +
                                      (screenshot ? std::string(" --screenshot ") + screenshot : ""));
  ASSERT_EQ(r.exit_code, 0) << r.output << "\nserver:\n" << server.output();
  const nlohmann::json seen = what_the_browser_saw(r.output);
  EXPECT_DOUBLE_EQ(seen["progress"].get<double>(), 1.0) << r.output;
}

// A live session in the page: Chromium's fake microphone plays a WAV; the dubbed avatar's video
// must arrive at a steady rate (>= 15 frames/s on this 2-core machine, the browser sharing the
// cores) with audio, and typed text must be spoken.
TEST(ServePage, TalkToTheAvatarThroughTheMicrophoneAndText) {
  if (const std::string why = browser_missing(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  const fs::path model = save_random_model(dir / "model.pth", 64, audio_feature_spec("mel"));
  const SynthClip clip = make_synth_clip(dir / "synth", 3.0, 256);
  const fs::path audio = write_tone(dir / "speech.wav", 2.0);
  ServerProcess server("--model_path " + model.string() + " --jobs_dir " + (dir / "jobs").string() +
                           " --precision int8 --avatar " + clip.video.string(),
                       dir / "server.log");
  ASSERT_GT(server.port(), 0) << server.output();
  const char* screenshot = std::getenv("DINET_SCREENSHOT");
  const CommandResult r = run_browser("http://127.0.0.1:" + std::to_string(server.port()) + "/ --video " +
                                      clip.video.string() + " --audio " + audio.string() + " --live --fake_audio " +
                                      audio.string() + (screenshot ? std::string(" --screenshot ") + screenshot : ""));
  ASSERT_EQ(r.exit_code, 0) << r.output << "\nserver:\n" << server.output();
  const nlohmann::json seen = what_the_browser_saw(r.output);
  EXPECT_GE(seen["live_fps"].get<double>(), 15.0) << r.output;
  EXPECT_GT(seen["live_audio_samples"].get<double>(), 0) << r.output;
  EXPECT_GT(seen["say_audio_energy"].get<double>(), 0) << r.output;
}

}  // namespace
}  // namespace dinet::test
