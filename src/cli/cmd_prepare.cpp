// `gptforge prepare --config X [overrides]`: tokenize data.inputs into shards in data.out_dir.
#include <cstdio>

#include "cli/app.h"
#include "data/prepare.h"

namespace gptforge::cli {

void register_prepare(CLI::App& app) {
  auto opts = std::make_shared<CommonOptions>();
  auto* cmd = app.add_subcommand("prepare", "Tokenize data.inputs into train/val shards and meta.json in data.out_dir");
  add_common_options(cmd, *opts);
  cmd->callback([opts] {
    Config cfg = load_command_config(*opts);
    PrepareStats stats = prepare_data(cfg);
    std::fputs(stats.summary().c_str(), stdout);
  });
}

}  // namespace gptforge::cli
