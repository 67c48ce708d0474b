// The command-line front end: parse, call the library, print. Every command lives in its own
// cmd_<name>.cpp and registers itself in app.cpp; the work itself lives in the library.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "util/config.h"

namespace gptforge::cli {

// Options every config-driven command shares: --config FILE, --threads, --device and trailing
// key.path=value overrides.
struct CommonOptions {
  std::string config;
  std::vector<std::string> overrides;
  int threads = -1;
  std::string device;
};
void add_common_options(CLI::App* cmd, CommonOptions& opts, bool with_overrides = true);
// Loads the config with the overrides (--threads/--device become run.* overrides), sets up the
// runtime (threads, seed, log level) and returns it.
Config load_command_config(const CommonOptions& opts);

// Entry point used by main(): returns the process exit code.
int run(int argc, char** argv);

// Command registration, one per cmd_<name>.cpp.
void register_info(CLI::App& app);
void register_config(CLI::App& app);
void register_tokenizer(CLI::App& app);
void register_prepare(CLI::App& app);
void register_train(CLI::App& app);  // and register_sft, in cmd_train.cpp
void register_sft(CLI::App& app);
void register_tasks(CLI::App& app);
void register_eval(CLI::App& app);
void register_sample(CLI::App& app);
void register_chat(CLI::App& app);
void register_probe(CLI::App& app);
void register_export(CLI::App& app);
void register_import(CLI::App& app);
void register_launch(CLI::App& app);
void register_serve(CLI::App& app);
void register_lora(CLI::App& app);

}  // namespace gptforge::cli
