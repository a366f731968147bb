// dinet launch: runs a dinet command in several processes for data-parallel training, as
// `torchrun --no_python` does (docs/distributed.md).
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "dinet/distributed.h"

namespace dinet::cli {

void setup_launch(CLI::App& app) {
  auto o = std::make_shared<LaunchOptions>();
  auto args = std::make_shared<std::vector<std::string>>();
  auto* verb = app.add_subcommand(
      "launch",
      "Run a dinet command (given after --) in N processes that train as one, e.g. "
      "`dinet launch -n 2 -- train frame ...`. Each process gets torchrun's variables (RANK, "
      "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT); its output lines start with "
      "[rank R]; when one fails, the others are stopped and the exit status is the failure's. "
      "Split the CPU cores between processes with --threads.");
  verb->add_option("-n,--nproc_per_node", o->nproc_per_node, "processes on this machine")
      ->capture_default_str();
  verb->add_option("--nnodes", o->nnodes, "machines in the job")->capture_default_str();
  verb->add_option("--node_rank", o->node_rank, "this machine's index, 0 to nnodes - 1")
      ->capture_default_str();
  verb->add_option("--master_addr", o->master_addr,
                   "address of machine 0, which serves the rendezvous")
      ->capture_default_str();
  verb->add_option(
      "--master_port", o->master_port,
      "rendezvous port on machine 0 (default: a free port; required with --nnodes > 1)");
  verb->add_option("command", *args, "the dinet command and its options, after --")->required();
  verb->callback([o, args] {
    o->command = {std::filesystem::read_symlink("/proc/self/exe").string()};
    o->command.insert(o->command.end(), args->begin(), args->end());
    const int code = launch(*o);
    if (code != 0) std::exit(code);
  });
}

}  // namespace dinet::cli
