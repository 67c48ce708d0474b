// `gptforge probe --checkpoint C --prompt TEXT [--top-k 5] [--json F] [--html F]`: what the model
// predicts at each position, the logit lens and the attention maps.
#include <cstdio>

#include "cli/app.h"
#include "cli/generate_options.h"
#include "checkpoint/loaded_model.h"
#include "generate/probe.h"
#include "generate/probe_report.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"
#include "util/runtime.h"

namespace gptforge::cli {

namespace {

struct ProbeArgs {
  CommonOptions common;
  std::string checkpoint;
  PromptOptions prompt;
  int64_t top_k = 5;
  std::string json, html;
};

void run_probe(const ProbeArgs& args) {
  if (args.top_k < 1) throw UsageError("--top-k must be at least 1, got " + std::to_string(args.top_k));
  Config cfg = load_command_config(args.common);
  const std::string prompt = resolve_prompt(args.prompt, cfg);
  if (prompt.empty()) throw UsageError("probe needs a prompt: give --prompt TEXT or --prompt-file FILE");
  LoadedModel m = load_model(args.checkpoint, resolve_device(cfg.run.device));
  log_info(describe(m));
  std::vector<int32_t> ids = m.tokenizer.encode(prompt);
  if (ids.empty()) throw UsageError("--prompt: '" + prompt + "' encodes to no tokens");

  ProbeResult r = probe(m.model, ids, args.top_k, &m.tokenizer);
  r.source = m.dir;
  r.prompt = prompt;
  std::string table = probe_table(r);
  std::fwrite(table.data(), 1, table.size(), stdout);
  if (!args.json.empty()) {
    write_file_atomic(args.json, probe_json(r).dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    log_info("wrote " + args.json);
  }
  if (!args.html.empty()) {
    write_file_atomic(args.html, probe_html(r));
    log_info("wrote " + args.html);
  }
}

}  // namespace

void register_probe(CLI::App& app) {
  auto args = std::make_shared<ProbeArgs>();
  auto* cmd = app.add_subcommand("probe", "Per-token predictions, entropy, logit lens and attention (table, JSON, HTML)");
  add_common_options(cmd, args->common);
  add_checkpoint_option(cmd, args->checkpoint);
  add_prompt_options(cmd, args->prompt);
  cmd->add_option("-k,--top-k", args->top_k, "Candidates shown per position and layer")->capture_default_str();
  cmd->add_option("--json", args->json, "Write the full result as JSON to this file");
  cmd->add_option("--html", args->html, "Write a self-contained HTML report to this file");
  cmd->callback([args] { run_probe(*args); });
}

}  // namespace gptforge::cli
