// `gptforge import --from HF_DIR --out RUN_DIR [--force]`: a Hugging Face GPT2LMHeadModel or
// LlamaForCausalLM directory as a gptforge checkpoint (export/export.h), ready for
// `train.init_from=RUN_DIR`.
#include <cstdio>

#include "cli/app.h"
#include "export/export.h"

namespace gptforge::cli {

namespace {
struct ImportCliOptions {
  std::string from, out;
  bool force = false;
};
}  // namespace

void register_import(CLI::App& app) {
  auto opts = std::make_shared<CommonOptions>();
  auto i = std::make_shared<ImportCliOptions>();
  auto* cmd = app.add_subcommand("import", "Import a Hugging Face model directory as a gptforge checkpoint");
  cmd->add_option("--from", i->from, "Hugging Face directory (config.json, model.safetensors, tokenizer.model)")
      ->required();
  cmd->add_option("--out", i->out, "Run directory for the checkpoint (RUN_DIR/step_0000000, RUN_DIR/latest)")
      ->required();
  cmd->add_flag("--force", i->force, "Write into a non-empty output directory");
  add_common_options(cmd, *opts, /*with_overrides=*/false);
  cmd->callback([opts, i] {
    load_command_config(*opts);  // threads, log level
    ImportResult r = import_hf(i->from, i->out, i->force);
    const ModelConfig& m = r.model;
    std::printf("imported %s (%s: %lld layers, d_model %lld, %lld heads, vocab %lld, context %lld) to %s\n",
                i->from.c_str(), r.architecture.c_str(), (long long)m.n_layer, (long long)m.d_model,
                (long long)m.n_head, (long long)m.vocab_size, (long long)m.block_size, r.checkpoint.c_str());
  });
}

}  // namespace gptforge::cli
