// `gptforge lora merge --checkpoint C --out RUN [--force]`: a LoRA run's checkpoint with its adapters
// folded into the weights (W + (alpha / rank) · B A), written as a plain checkpoint that every command
// loads (checkpoint/adapters.h).
#include <cstdio>

#include "checkpoint/adapters.h"
#include "cli/app.h"

namespace gptforge::cli {

namespace {
struct LoraMergeOptions {
  std::string checkpoint, out;
  bool force = false;
};
}  // namespace

void register_lora(CLI::App& app) {
  auto opts = std::make_shared<CommonOptions>();
  auto m = std::make_shared<LoraMergeOptions>();
  auto* lora = app.add_subcommand("lora", "LoRA adapters of a fine-tuning run (lora.rank > 0)");
  lora->require_subcommand(1);
  auto* merge = lora->add_subcommand("merge", "Merge a checkpoint's adapters into its weights: a plain checkpoint");
  merge->add_option("--checkpoint", m->checkpoint, "Checkpoint or run directory (its latest checkpoint)")->required();
  merge->add_option("--out", m->out, "Run directory to write the merged checkpoint into")->required();
  merge->add_flag("--force", m->force, "Write even when --out already holds checkpoints");
  add_common_options(merge, *opts, /*with_overrides=*/false);
  merge->callback([opts, m] {
    load_command_config(*opts);
    const std::string dir = merge_lora_checkpoint(m->checkpoint, m->out, m->force);
    std::printf("merged the adapters of %s into %s\n", m->checkpoint.c_str(), dir.c_str());
  });
}

}  // namespace gptforge::cli
