// dinet: visual dubbing (DINet) in C++. One executable, one verb per file.
#include <c10/util/Exception.h>

#include <cstdio>
#include <thread>

#include "commands.h"
#include "dinet/error.h"
#include "dinet/interrupt.h"
#include "dinet/runtime.h"

namespace dinet::cli {

void add_threads_option(CLI::App* verb, int& threads) {
  verb->add_option("--threads", threads,
                   "CPU threads for LibTorch and OpenCV (default: every core, here " +
                       std::to_string(std::thread::hardware_concurrency()) + ")");
}

}  // namespace dinet::cli

int main(int argc, char** argv) {
  dinet::keep_freed_memory();
  CLI::App app{"dinet: re-renders the mouth of a talking-face video so the lips follow a new "
               "audio track (DINet, AAAI 2023, in C++). Run `dinet <command> --help` for each "
               "command's options."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dinet 0.1.0");

  dinet::cli::setup_forward(app);
  dinet::cli::setup_launch(app);
  dinet::cli::setup_landmarks(app);
  dinet::cli::setup_features(app);
  dinet::cli::setup_prepare(app);
  dinet::cli::setup_train(app);
  dinet::cli::setup_infer(app);
  dinet::cli::setup_synth(app);
  dinet::cli::setup_evaluate(app);
  dinet::cli::setup_selfrecon(app);
  dinet::cli::setup_finetune(app);
  dinet::cli::setup_serve(app);
  dinet::cli::setup_demo(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dinet::Interrupted& e) {
    std::fprintf(stderr, "dinet: %s\n", e.what());
    return e.exit_code();
  } catch (const dinet::Error& e) {
    std::fprintf(stderr, "dinet: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    // LibTorch messages carry a C++ backtrace after the first line; users need only the first.
    std::string msg = e.what_without_backtrace();
    std::fprintf(stderr, "dinet: error: %s\n", msg.substr(0, msg.find('\n')).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dinet: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
