// dinet forward: runs one published network on .npy inputs (verification against PyTorch).
#include "commands.h"

namespace dinet::cli {

void setup_forward(CLI::App& app) {
  auto* verb = app.add_subcommand("forward", "Run DINet, SyncNet or the discriminator on .npy inputs");
  verb->callback([] {});
}

}  // namespace dinet::cli
