#include "cli/generate_options.h"

#include "util/files.h"

namespace gptforge::cli {

void add_checkpoint_option(CLI::App* cmd, std::string& checkpoint) {
  cmd->add_option("--checkpoint", checkpoint, "Checkpoint directory, or a run directory (its latest checkpoint)")
      ->required();
}

void add_prompt_options(CLI::App* cmd, PromptOptions& opts) {
  opts.text_option = cmd->add_option("-p,--prompt", opts.text, "Prompt text (default: sample.prompt)");
  auto* file = cmd->add_option("--prompt-file", opts.file, "Read the prompt from a file (without its final newline)");
  opts.text_option->excludes(file);
}

std::string resolve_prompt(const PromptOptions& opts, const Config& cfg) {
  if (opts.text_option && opts.text_option->count() > 0) return opts.text;
  if (!opts.file.empty()) {
    std::string text = read_file(opts.file);
    if (!text.empty() && text.back() == '\n') text.pop_back();  // the file's final newline is not prompt
    return text;
  }
  return cfg.sample.prompt;
}

}  // namespace gptforge::cli
