// Command-line options shared by `sample`, `chat` and `probe`: the checkpoint and the prompt.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "util/config.h"

namespace gptforge::cli {

struct PromptOptions {
  std::string text;
  std::string file;
  CLI::Option* text_option = nullptr;  // to tell `--prompt ""` from no --prompt
};

// --checkpoint (required): a checkpoint directory or a run directory (its latest checkpoint).
void add_checkpoint_option(CLI::App* cmd, std::string& checkpoint);
// -p/--prompt TEXT and --prompt-file FILE (exclusive).
void add_prompt_options(CLI::App* cmd, PromptOptions& opts);
// --prompt, else the contents of --prompt-file, else sample.prompt.
std::string resolve_prompt(const PromptOptions& opts, const Config& cfg);

}  // namespace gptforge::cli
