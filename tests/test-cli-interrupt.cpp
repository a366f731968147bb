// Ctrl-C, SIGTERM and kill -9 in the commands that dub and measure (issue 25, item 3): the
// command is started as a user would, stopped once its work is under way, and must exit with
// 130 (SIGINT) or 143 (SIGTERM) within about a second, leaving no temporary and no output
// under a final name; after kill -9 at random moments a re-run must succeed and leave nothing
// behind. `dinet train` and `dinet prepare` have theirs in test-train-skeleton.cpp and
// test-data-prepare.cpp.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "deepspeech_synthetic.h"
#include "dinet/infer.h"
#include "dinet/process.h"
#include "infer_test_support.h"
#include "temporaries.h"

extern char** environ;

namespace dinet {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::temporaries_in;

// `dinet ARGS...` as a child whose progress bars also go to a file (DINET_PROGRESS_FILE, as
// `dinet serve` sets it), so the test sees when the work is under way; its output goes to a log.
class Command {
 public:
  Command(const fs::path& dir, const std::vector<std::string>& args)
      : progress_(dir / "progress.txt"), log_(dir / "log.txt") {
    fs::remove(progress_);
    ProcessSpec spec{test::dinet_binary().string(), {"dinet"}};
    spec.args.insert(spec.args.end(), args.begin(), args.end());
    for (char** e = environ; *e; ++e) spec.env.emplace_back(*e);
    spec.env.push_back("DINET_PROGRESS_FILE=" + progress_.string());
    const int log = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    spec.out_fd = spec.err_fd = log;
    pid_ = start_process(spec);
    ::close(log);
  }
  ~Command() {
    if (pid_ > 0) ::kill(pid_, SIGKILL), wait_process(pid_);
  }

  // Waits until a progress bar whose label starts with `label` has counted `done` items;
  // false when the command ended (or two minutes passed: a machine busy with builds) first.
  bool wait_for_progress(const std::string& label, long long done) {
    for (const auto deadline = Clock::now() + 120s; Clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
      std::ifstream in(progress_);
      long long count = 0, total = 0;
      std::string text;
      if (in >> count >> total && std::getline(in >> std::ws, text) && text.starts_with(label) && count >= done)
        return true;
      if (::waitpid(pid_, nullptr, WNOHANG) != 0) return pid_ = -1, false;
    }
    return false;
  }

  // Sends `signal`; returns the wait status and how long the command took to end.
  std::pair<int, double> stop(int signal) {
    ::kill(pid_, signal);
    const auto sent = Clock::now();
    const int status = wait();
    return {status, std::chrono::duration<double>(Clock::now() - sent).count()};
  }

  // Waits for the end; the wait status.
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

  std::string log() const {
    std::ifstream in(log_);
    return {std::istreambuf_iterator<char>(in), {}};
  }

 private:
  fs::path progress_, log_;
  pid_t pid_ = -1;
};

// The command stopped by its own handler (not killed by the signal): the exit code, the one
// line at the signal, and soon enough for a user at a terminal.
void expect_stopped_cleanly(const Command& command, std::pair<int, double> ended, int signal) {
  const auto [status, seconds] = ended;
  const std::string log = command.log();
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << "\n" << log;
  EXPECT_EQ(WEXITSTATUS(status), 128 + signal) << log;
  EXPECT_NE(log.find("stopping at the next safe point"), std::string::npos) << log;
  EXPECT_NE(log.find(signal == SIGINT ? "interrupted by SIGINT" : "interrupted by SIGTERM"), std::string::npos) << log;
  // About a second on an idle 2-core machine (a batch of frames, a stretch of the DeepSpeech
  // recurrence); the bound leaves room for one shared with builds, where 5 s were seen.
  EXPECT_LT(seconds, 10.0) << log;
  std::printf("stopped %.2f s after the signal\n", seconds);
}

// One synthetic clip with its landmarks and a small model, shared by the tests.
class Interrupt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    clip_ = test::make_synth_clip(dir_->path(), 10.0);
    model_ = test::save_random_model(*dir_ / "mel64.pth", 64, audio_feature_spec("mel"));
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    if (!fs::exists(test::dinet_binary())) GTEST_SKIP() << test::dinet_binary() << " is not built";
  }

  static inline test::TempDir* dir_ = nullptr;
  static inline test::SynthClip clip_;
  static inline fs::path model_;
};

std::vector<std::string> infer_args(const fs::path& video, const fs::path& csv, const fs::path& audio,
                                    const fs::path& model, const fs::path& out) {
  return {"infer", "--source_video_path", video.string(), "--source_openface_landmark_path", csv.string(),
          "--driving_audio_path", audio.string(), "--model_path", model.string(), "--res_video_dir", out.string(),
          "--batch_size", "1", "--threads", "2"};
}

// `dinet serve` cancels a job with SIGTERM: the dub of an audio longer than the video (its
// frames spilled to a temporary file for the ping-pong) ends with 143 and leaves nothing.
TEST_F(Interrupt, InferStopsAtSigtermAndLeavesNothing) {
  test::TempDir dir;
  const fs::path audio = test::write_tone(dir / "drive.wav", 15.0), out = dir / "out";
  Command infer(dir.path(), infer_args(clip_.video, clip_.csv, audio, model_, out));
  ASSERT_TRUE(infer.wait_for_progress("dubbing", 2)) << infer.log();
  EXPECT_FALSE(temporaries_in(out).empty()) << "the result and the spill are written beside it";
  expect_stopped_cleanly(infer, infer.stop(SIGTERM), SIGTERM);
  EXPECT_TRUE(test::files_in(out).empty()) << "left: " << test::files_in(out).size() << " files";
}

// Ctrl-C in a test-set run: the videos already dubbed stay, the one being dubbed goes, and no
// summary is written (it would describe the set as complete).
TEST_F(Interrupt, InferTestSetKeepsTheFinishedVideos) {
  test::TempDir dir;
  const fs::path videos = dir / "asserts" / "test_data" / "split_video_25fps";
  const fs::path csvs = dir / "asserts" / "test_data" / "split_video_25fps_landmark_openface";
  fs::create_directories(videos);
  fs::create_directories(csvs);
  for (const std::string name : {"a", "b"}) {
    fs::copy_file(clip_.video, videos / (name + ".mp4"));
    fs::copy_file(clip_.csv, csvs / (name + ".csv"));
  }
  const fs::path audio = test::write_tone(dir / "drive.wav", 1.2);
  Command infer(dir.path(), {"infer", "--process_num", "2", "--root", (dir / "asserts").string(), "--audio_path",
                             audio.string(), "--model_path", model_.string(), "--batch_size", "1", "--threads", "2"});
  ASSERT_TRUE(infer.wait_for_progress("[2/2]", 1)) << infer.log();
  expect_stopped_cleanly(infer, infer.stop(SIGINT), SIGINT);

  const fs::path results = dir / "asserts" / "inference_result";
  const fs::path finished = results / "a_facial_dubbing_add_audio.mp4";
  ASSERT_TRUE(fs::exists(finished));
  EXPECT_EQ(static_cast<int64_t>(test::read_all_frames(finished).size()), feature_frame_count(static_cast<int64_t>(1.2 * 16000)));
  EXPECT_FALSE(fs::exists(results / "b_facial_dubbing_add_audio.mp4"));
  EXPECT_FALSE(fs::exists(results / "inference_summary.json"));
  EXPECT_TRUE(temporaries_in(dir.path()).empty());
}

TEST_F(Interrupt, EvaluateStopsAtCtrlCAndWritesNoReport) {
  test::TempDir dir;
  fs::create_directories(dir / "results");
  fs::copy_file(clip_.video, dir / "results" / clip_.video.filename());
  const fs::path report = dir / "report";
  Command evaluate(dir.path(), {"evaluate", "--result_dir", (dir / "results").string(), "--test_video_dir",
                                clip_.video.parent_path().string(), "--res_dir", report.string(), "--threads", "2"});
  // The progress bar counts videos: the one video is under way from its start on.
  ASSERT_TRUE(evaluate.wait_for_progress("evaluate", 0)) << evaluate.log();
  std::this_thread::sleep_for(2s);
  expect_stopped_cleanly(evaluate, evaluate.stop(SIGINT), SIGINT);
  EXPECT_TRUE(test::files_in(report).empty());
}

TEST_F(Interrupt, LandmarksStopAtCtrlCAndWriteNoCsv) {
  test::TempDir dir;
  const fs::path csv = dir / "clip.csv";
  Command landmarks(dir.path(), {"landmarks", clip_.video.string(), "-o", csv.string(), "--threads", "2"});
  ASSERT_TRUE(landmarks.wait_for_progress("landmarks", 10)) << landmarks.log();
  expect_stopped_cleanly(landmarks, landmarks.stop(SIGINT), SIGINT);
  EXPECT_FALSE(fs::exists(csv));
  EXPECT_TRUE(temporaries_in(dir.path()).empty());
}

TEST_F(Interrupt, SelfreconStopsAtCtrlCWhileDubbing) {
  test::TempDir dir;
  const fs::path out = dir / "selfrecon";
  Command selfrecon(dir.path(), {"selfrecon", "--model_path", model_.string(), "--holdout_video", clip_.video.string(),
                                 "--holdout_landmarks", clip_.csv.string(), "--result_path", out.string(),
                                 "--threads", "2"});
  ASSERT_TRUE(selfrecon.wait_for_progress("self-reconstruction: own_audio", 2)) << selfrecon.log();
  expect_stopped_cleanly(selfrecon, selfrecon.stop(SIGINT), SIGINT);
  EXPECT_TRUE(test::files_in(out).empty()) << "left: " << test::files_in(out).size() << " files";
}

// DeepSpeech over ten minutes of audio (a random network of v0.1.0's layout, smaller) takes
// seconds: Ctrl-C stops it between chunks of the recurrence.
TEST_F(Interrupt, FeaturesStopAtCtrlCAndWriteNothing) {
  test::TempDir dir;
  test::write_graph(dir / "output_graph.pb", test::random_weights(256, 256, 256, 384, 256, 1));
  const fs::path audio = test::write_tone(dir / "long.wav", 600.0), out = dir / "long.txt";
  Command features(dir.path(), {"features", audio.string(), "--type", "deepspeech", "--deepspeech_model",
                                (dir / "output_graph.pb").string(), "-o", out.string(), "--threads", "2"});
  std::this_thread::sleep_for(2s);  // past the start-up and the decoding, into the network
  expect_stopped_cleanly(features, features.stop(SIGINT), SIGINT);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(temporaries_in(dir.path()).empty());
}

// Stops `args` with kill -9 at `kills` random moments within `window` of the start of its
// work (its progress bar `label`), then runs it to the end: the re-run must succeed and leave
// no temporary, also where a killed run left some. Returns how many the kills left.
size_t kill_at_random_then_finish(const fs::path& dir, const std::vector<std::string>& args,
                                  const std::string& label, int kills, std::chrono::milliseconds window,
                                  const std::function<void()>& check_outputs) {
  std::mt19937 random(25);
  std::uniform_int_distribution<int> moment(0, static_cast<int>(window.count()));
  size_t left = 0;
  for (int k = 0; k < kills; ++k) {
    Command command(dir, args);
    EXPECT_TRUE(command.wait_for_progress(label, 0)) << command.log();
    std::this_thread::sleep_for(std::chrono::milliseconds(moment(random)));
    const int status = command.stop(SIGKILL).first;
    left += temporaries_in(dir).size();
    std::printf("kill %d: %s, %zu temporaries left\n", k, WIFSIGNALED(status) ? "killed" : "had finished",
                temporaries_in(dir).size());
    check_outputs();  // whatever is under a final name is complete
  }
  Command command(dir, args);
  const int status = command.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command.log();
  check_outputs();
  EXPECT_TRUE(temporaries_in(dir).empty()) << temporaries_in(dir).front();
  return left;
}

TEST_F(Interrupt, InferRerunsAfterKill9) {
  test::TempDir dir;
  const test::SynthClip clip = test::make_synth_clip(dir.path(), 1.0);
  // Longer than the clip: the frames are spilled to a temporary file too.
  const fs::path audio = test::write_tone(dir / "drive.wav", 2.0), out = dir / "out";
  const fs::path result = published_result_path(out, clip.video);
  const size_t left = kill_at_random_then_finish(
      dir.path(), infer_args(clip.video, clip.csv, audio, model_, out), "dubbing", 3, 1500ms, [&] {
        if (fs::exists(result))
          EXPECT_EQ(static_cast<int64_t>(test::read_all_frames(result).size()), feature_frame_count(2 * 16000));
      });
  EXPECT_GT(left, 0u) << "no kill came while the result was being written";
  ASSERT_TRUE(fs::exists(result));
  EXPECT_EQ(test::files_in(out).size(), 1u);
}

TEST_F(Interrupt, EvaluateRerunsAfterKill9) {
  test::TempDir dir;
  const EvaluateOptions o = test::self_evaluation(dir.path(), 3.0);
  kill_at_random_then_finish(dir.path(),
                             {"evaluate", "--result_dir", o.result_dir.string(), "--test_video_dir",
                              o.test_video_dir.string(), "--res_dir", o.output_dir.string(), "--threads", "2"},
                             "evaluate", 3, 3000ms, [&] {
                               const fs::path metrics = o.output_dir / "metrics.json";
                               if (!fs::exists(metrics)) return;
                               std::ifstream in(metrics);
                               EXPECT_EQ(nlohmann::json::parse(in)["videos"].size(), 1u);
                             });
  EXPECT_TRUE(fs::exists(o.output_dir / "report.html"));
}

}  // namespace
}  // namespace dinet
