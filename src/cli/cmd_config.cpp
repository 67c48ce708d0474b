// `gptforge config show FILE [overrides]` and `gptforge config schema`.
#include <cstdio>

#include "cli/app.h"

namespace gptforge::cli {

void register_config(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Print a resolved config or the schema of every key");
  cmd->require_subcommand(1);

  struct ShowArgs {
    std::string file;
    std::vector<std::string> overrides;
  };
  auto show_args = std::make_shared<ShowArgs>();
  auto* show = cmd->add_subcommand("show", "Print FILE resolved: defaults, presets, base chain and overrides");
  show->add_option("file", show_args->file, "Config file; '-' or omitted for defaults only");
  show->add_option("overrides", show_args->overrides, "Overrides: section.key=value ...");
  show->callback([show_args] {
    std::string file = show_args->file;
    std::vector<std::string> overrides = show_args->overrides;
    // `config show model.n_layer=2` without a file: the first argument is an override.
    if (file.find('=') != std::string::npos) {
      overrides.insert(overrides.begin(), file);
      file.clear();
    }
    if (file == "-") file.clear();
    Config cfg = load_config(file, overrides);
    std::fputs(config_to_yaml(cfg).c_str(), stdout);
  });

  auto* schema = cmd->add_subcommand("schema", "Every key with its type, default, allowed values and description");
  schema->callback([] { std::fputs(config_schema_text().c_str(), stdout); });
}

}  // namespace gptforge::cli
