// Every verb of the `dinet` executable: one file cmd-<verb>.cpp each, with a setup function
// that declares the verb's options and its callback. main.cpp only wires them together.
#pragma once

#include <CLI/CLI.hpp>

namespace dinet::cli {

// Adds `--threads N` (default: every core) to a computing verb.
void add_threads_option(CLI::App* verb, int& threads);

void setup_forward(CLI::App& app);
void setup_launch(CLI::App& app);
void setup_landmarks(CLI::App& app);
void setup_features(CLI::App& app);
void setup_prepare(CLI::App& app);
void setup_train(CLI::App& app);
void setup_infer(CLI::App& app);
void setup_synth(CLI::App& app);
void setup_evaluate(CLI::App& app);
void setup_selfrecon(CLI::App& app);
void setup_finetune(CLI::App& app);
void setup_serve(CLI::App& app);
void setup_demo(CLI::App& app);

}  // namespace dinet::cli
