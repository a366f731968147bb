// dinet demo: the whole workflow on a built-in sample, start to finish, in minutes on a
// laptop-class CPU: synthetic talking faces -> prepare -> a short SyncNet and frame
// training -> dubbing a held-out clip -> evaluation -> self-reconstruction. With the published checkpoint and
// DeepSpeech graph at their published paths, training is skipped and they are used.
//
// Each step runs this executable's own verb in a child process, exactly as a user would
// type it, and the commands are printed so the demo doubles as a walkthrough.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "dinet/error.h"
#include "dinet/process.h"
#include "dinet/train.h"

namespace dinet::cli {
namespace {
namespace fs = std::filesystem;

struct DemoArgs {
  fs::path out = "dinet-demo";
  int videos = 4;
  double seconds = 8;
  int sync_epochs = 6;
  int frame_epochs = 6;
  int threads = 0;
  std::string device = "cpu";  // for the training and dubbing steps
};

void run_step(const std::string& title, std::vector<std::string> args, int threads) {
  if (threads > 0) args.insert(args.end(), {"--threads", std::to_string(threads)});
  std::string shown = "dinet";
  for (const auto& a : args) shown += " " + a;
  std::printf("\n== %s\n$ %s\n", title.c_str(), shown.c_str());
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  args.insert(args.begin(), "dinet");
  if (run_process({"/proc/self/exe", args}) != 0) throw Error("demo step failed: " + title + " (" + shown + ")");
  std::printf("   (%.0f s)\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

// The first video of a folder, by name.
fs::path first_video(const fs::path& dir) {
  std::optional<fs::path> first;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".mp4" && (!first || entry.path() < *first)) first = entry.path();
  if (!first) throw Error(dir.string(), "holds no .mp4 video");
  return *first;
}

// The newest checkpoint a training step wrote, by epoch.
fs::path trained_checkpoint(const fs::path& dir, const std::string& prefix) {
  const std::optional<FoundCheckpoint> found = newest_checkpoint(dir, prefix);
  if (!found) throw Error(dir.string(), "training wrote no checkpoint");
  return found->file;
}

void run_demo(const DemoArgs& a) {
  const fs::path root = a.out / "asserts";
  const fs::path train_videos = root / "training_data" / "split_video_25fps";
  const fs::path test_videos = root / "test_data" / "split_video_25fps";
  const fs::path json = root / "training_data" / "training_json.json";
  const fs::path published_model = "./asserts/clip_training_DINet_256mouth.pth";
  const fs::path published_graph = "./asserts/output_graph.pb";
  const bool published = fs::exists(published_model) && fs::exists(published_graph);
  const int t = a.threads;
  // The training and dubbing steps, on the chosen device (the default left unsaid).
  const auto on_device = [&a](std::vector<std::string> args) {
    if (a.device != "cpu") args.insert(args.end(), {"--device", a.device});
    return args;
  };
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", a.seconds);

  std::printf("dinet demo: working in %s\n", a.out.c_str());
  run_step("1. synthetic talking faces (training set)",
           {"synth", "--out", train_videos.string(), "--videos", std::to_string(a.videos),
            "--seconds", secs, "--size", "256x256", "--seed", "1"}, t);
  run_step("2. a held-out clip to dub (test set)",
           {"synth", "--out", test_videos.string(), "--videos", "1", "--seconds", "4", "--size",
            "256x256", "--seed", "99"}, t);

  fs::path model = published_model, syncnet;
  if (published) {
    std::printf("\nFound the published checkpoint and DeepSpeech graph in ./asserts: using them.\n");
  } else {
    run_step("3. prepare: crops, audio and mel features, training_json.json",
             {"prepare", "--all", "--root", root.string(), "--audio_feature", "mel"}, t);
    const fs::path sync_dir = root / "training_model_weight" / "syncnet_64";
    run_step("4. train the sync network (mouth 64)",
             on_device({"train", "sync", "--train_data", json.string(), "--mouth_region_size", "64",
                        "--batch_size", "16", "--epochs", std::to_string(a.sync_epochs), "--result_path",
                        sync_dir.string()}), t);
    syncnet = sync_dir / "syncnet_64mouth.pth";  // the sync trainer's final network
    const fs::path frame_dir = root / "training_model_weight" / "frame_training_64";
    const fs::path vgg = "./asserts/vgg19-dcbb9e9d.pth";
    run_step("5. frame training (mouth 64)" +
                 std::string(fs::exists(vgg) ? "" : "; no ./asserts/vgg19-dcbb9e9d.pth, so the "
                                                    "perceptual loss uses a random VGG19"),
             on_device({"train", "frame", "--train_data", json.string(), "--mouth_region_size", "64",
                        "--batch_size", "8", "--augment_num", "4", "--non_decay",
                        std::to_string(a.frame_epochs), "--decay", "0", "--checkpoint", "1",
                        "--vgg_weights", fs::exists(vgg) ? vgg.string() : "random", "--result_path",
                        frame_dir.string()}), t);
    model = trained_checkpoint(frame_dir, "netG_model_epoch_");
  }
  run_step("6. dub the test clip with its own audio",
           on_device({"infer", "--process_num", "1", "--root", root.string(), "--model_path",
                      model.string()}), t);
  std::vector<std::string> evaluate = {"evaluate", "--root", root.string()};
  if (!syncnet.empty()) evaluate.insert(evaluate.end(), {"--syncnet_path", syncnet.string()});
  run_step("7. evaluate", evaluate, t);
  // The test clip is a face the model never trained on: dubbed with its own audio it should come
  // closer to the real frames than dubbed with a training clip's audio, or than a still mouth.
  const fs::path selfrecon = root / "selfrecon_result";
  run_step("8. self-reconstruction: the test clip with its own audio, another clip's, and a still mouth",
           on_device({"selfrecon", "--model_path", model.string(), "--holdout_video",
                      first_video(test_videos).string(), "--other_audio", first_video(train_videos).string(),
                      "--still_mouth_video", first_video(train_videos).string(), "--result_path",
                      selfrecon.string()}), t);

  if (!published)
    std::printf("\nThe models trained for minutes, not days: the dubbed mouth shows the workflow, "
                "not the quality of a trained DINet (docs/training.md has the full recipe).");
  std::printf("\nDone. Dubbed video: %s\nReport:       %s\nSelf-reconstruction: %s\n",
              (root / "inference_result").c_str(), (root / "evaluate_result" / "report.html").c_str(),
              (selfrecon / "selfrecon.html").c_str());
  if (!published)  // the demo's model is a mel model, so it can also be talked to live
    std::printf("Talk to it in a browser: dinet serve --model_path %s --avatar %s\n", model.c_str(),
                first_video(test_videos).c_str());
}

}  // namespace

void setup_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  auto* verb = app.add_subcommand(
      "demo", "Run the whole workflow on built-in synthetic talking faces: synth, prepare, "
              "train (sync + frame), infer, evaluate, selfrecon; prints where the video and reports are");
  verb->add_option("--out", args->out, "Working directory of the demo")->capture_default_str();
  verb->add_option("--videos", args->videos, "Synthetic training videos")->capture_default_str();
  verb->add_option("--seconds", args->seconds, "Length of each training video (s)")->capture_default_str();
  verb->add_option("--sync_epochs", args->sync_epochs, "SyncNet epochs")->capture_default_str();
  verb->add_option("--frame_epochs", args->frame_epochs, "Frame-training epochs")->capture_default_str();
  verb->add_option("--device", args->device, "cpu or cuda, for training and dubbing (evaluation runs on the CPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  add_threads_option(verb, args->threads);
  verb->callback([args] { run_demo(*args); });
}

}  // namespace dinet::cli
