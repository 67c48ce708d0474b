// `gptforge launch --nproc N [--master-port P] -- train|sft [options]`: one distributed run as N
// processes on this machine (train/launch.h).
#include "cli/app.h"
#include "train/launch.h"
#include "util/errors.h"

namespace gptforge::cli {

void register_launch(CLI::App& app) {
  auto opts = std::make_shared<LaunchOptions>();
  auto* cmd = app.add_subcommand(
      "launch",
      "Run `train` or `sft` as N data-parallel processes on this machine: gptforge launch --nproc 2 -- train "
      "--config X. Each process gets cores / N intra-op threads unless run.threads is set. See docs/distributed.md");
  cmd->add_option("-n,--nproc", opts->nproc, "Number of processes (one per GPU with CUDA)")->required();
  cmd->add_option("--master-port", opts->master_port, "Rendezvous port on 127.0.0.1 (default: a free one)");
  cmd->add_option("command", opts->command, "After --: the gptforge command every process runs (train or sft)");
  cmd->callback([opts] {
    int rc = launch_local(*opts);
    if (rc != 0) throw Error("", rc);  // the failing rank was named when it failed
  });
}

}  // namespace gptforge::cli
