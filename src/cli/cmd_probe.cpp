// `gptforge probe --checkpoint C --prompt TEXT [--top-k 5] [--json F] [--html F]`: what the model
// predicts at each position, the logit lens and the attention maps. --chat renders the prompt as a
// user message of the chat template; --generate continues it with the sampler (sample.* keys, tools
// included) and probes the prompt and the reply together, each token marked with where it came
// from: the prompt, the model, or a tool's result forced by the decoder.
#include <cstdio>

#include "cli/app.h"
#include "cli/generate_options.h"
#include "checkpoint/loaded_model.h"
#include "generate/probe.h"
#include "generate/probe_report.h"
#include "generate/sampler.h"
#include "tokenizer/chat_template.h"
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
  bool chat = false, generate = false;
};

// The prompt continued by the sampler, up to the context: the ids, and where each came from.
std::vector<std::string> continue_prompt(LoadedModel& m, std::vector<int32_t>& ids, const Config& cfg, bool chat) {
  std::vector<std::string> origin(ids.size(), "prompt");
  const int64_t room = m.config.model.block_size - static_cast<int64_t>(ids.size());
  if (room <= 0) {
    log_warn("the prompt fills the context: nothing is generated");
    return origin;
  }
  GenerationOptions opts = GenerationOptions::from_config(cfg.sample, static_cast<uint64_t>(cfg.run.seed));
  opts.num_samples = 1;
  opts.max_new_tokens = std::min(opts.max_new_tokens, room);
  if (chat) opts.stop_ids.push_back(m.tokenizer.special_id(Special::End));
  GenerationCallbacks callbacks;
  callbacks.on_token = [&](int, int32_t id) {
    ids.push_back(id);
    origin.push_back("model");
  };
  callbacks.on_forced = [&](int, const std::vector<int32_t>& forced) {
    ids.insert(ids.end(), forced.begin(), forced.end());
    origin.insert(origin.end(), forced.size(), "tool");
  };
  generate_detailed(m.model, std::vector<int32_t>(ids), opts, &m.tokenizer, callbacks);
  if (static_cast<int64_t>(ids.size()) > m.config.model.block_size) {  // forced results may overrun
    ids.resize(static_cast<size_t>(m.config.model.block_size));
    origin.resize(ids.size());
  }
  return origin;
}

void run_probe(const ProbeArgs& args) {
  if (args.top_k < 1) throw UsageError("--top-k must be at least 1, got " + std::to_string(args.top_k));
  Config cfg = load_command_config(args.common);
  const std::string prompt = resolve_prompt(args.prompt, cfg);
  if (prompt.empty()) throw UsageError("probe needs a prompt: give --prompt TEXT or --prompt-file FILE");
  if (args.generate) GenerationOptions::from_config(cfg.sample, static_cast<uint64_t>(cfg.run.seed)).validate();
  LoadedModel m = load_model(args.checkpoint, resolve_device(cfg.run.device));
  log_info(describe(m));
  std::vector<int32_t> ids = args.chat ? render_chat(m.tokenizer, {{"user", prompt}}, true).ids : m.tokenizer.encode(prompt);
  if (ids.empty()) throw UsageError("--prompt: '" + prompt + "' encodes to no tokens");
  std::vector<std::string> origin(ids.size(), "prompt");
  if (args.generate) origin = continue_prompt(m, ids, cfg, args.chat);

  ProbeResult r = probe(m.model, ids, args.top_k, &m.tokenizer);
  for (size_t i = 0; i < r.positions.size(); ++i) r.positions[i].origin = origin[i];
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
  cmd->add_flag("--chat", args->chat, "Render the prompt as a user message of the chat template, ready for the reply");
  cmd->add_flag("--generate", args->generate,
                "Continue the prompt first (sample.* keys, sample.tools too; up to the context) and probe prompt and "
                "reply, marking each token's origin: prompt, model, or tool (a forced tool result)");
  cmd->callback([args] { run_probe(*args); });
}

}  // namespace gptforge::cli
