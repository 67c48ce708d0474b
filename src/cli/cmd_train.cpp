// `gptforge train --config X [--resume | --force] [overrides]`: pretraining on prepared shards.
#include <cstdio>

#include "cli/app.h"
#include "generate/sampler.h"
#include "train/sft.h"
#include "train/trainer.h"
#include "util/log.h"
#include "util/progress.h"

namespace gptforge::cli {

void print_train_summary(const TrainSummary& s) {
  if (s.rank != 0) return;  // rank 0 reports for a distributed run
  std::printf("%s after %lld steps, %lld tokens in %s%s\n", s.interrupted ? "interrupted" : "done",
              static_cast<long long>(s.steps), static_cast<long long>(s.tokens), format_duration(s.seconds).c_str(),
              s.skipped_steps ? strprintf(" (%lld non-finite steps skipped)", (long long)s.skipped_steps).c_str() : "");
  if (s.best_step >= 0) {
    std::printf("best validation loss %.4f%s at step %lld\n", s.best_val_loss,
                s.best_val_bpb > 0 ? strprintf(" (%.4f bits/byte)", s.best_val_bpb).c_str() : "",
                static_cast<long long>(s.best_step));
  }
  if (s.early_stopped) std::printf("stopped early: validation loss stopped improving\n");
  if (!s.checkpoint.empty()) std::printf("checkpoint: %s\n", s.checkpoint.c_str());
}

namespace {

// What `train` and `sft` show while they run. The periodic sample: sample.prompt (or an end-of-text
// token to start from) with the sample section's settings and a private seed, so it never shifts
// the training stream.
TrainHooks train_hooks(const Config& cfg) {
  TrainHooks hooks;
  hooks.on_sample = [cfg](GPT& model, const Tokenizer& tok, int64_t step) {
    GenerationOptions g = GenerationOptions::from_config(cfg.sample, static_cast<uint64_t>(cfg.run.seed));
    g.num_samples = 1;
    g.beam_width = 1;
    const std::string& text = cfg.sample.prompt;
    std::vector<int32_t> prompt = text.empty() ? std::vector<int32_t>{tok.eos_id()} : encode_prompt(tok, text);
    auto gens = generate_detailed(model, prompt, g, &tok);
    log_info(strprintf("\nsample step %lld: %s%s", (long long)step, text.c_str(), gens.at(0).text.c_str()));
  };
  hooks.on_checkpoint = [](const std::string& dir, int64_t step) {
    log_debug(strprintf("checkpoint of step %lld: %s", (long long)step, dir.c_str()));
  };
  return hooks;
}

// `train` and `sft` take the same flags and differ in what they run.
void register_training(CLI::App& app, const std::string& name, const std::string& description,
                       TrainSummary (*run)(Config, const TrainOptions&)) {
  auto opts = std::make_shared<CommonOptions>();
  auto train_opts = std::make_shared<TrainOptions>();
  auto* cmd = app.add_subcommand(name, description);
  add_common_options(cmd, *opts);
  cmd->add_flag("--resume", train_opts->resume, "Continue the run in train.out_dir from its latest checkpoint");
  cmd->add_flag("--force", train_opts->force, "Start over even if train.out_dir holds checkpoints");
  cmd->callback([opts, train_opts, run] {
    Config cfg = load_command_config(*opts);
    train_opts->hooks = train_hooks(cfg);
    print_train_summary(run(cfg, *train_opts));
  });
}

}  // namespace

void register_train(CLI::App& app) {
  register_training(app, "train", "Pretrain a GPT on token shards (from `gptforge prepare`)", pretrain);
}

void register_sft(CLI::App& app) {
  register_training(app, "sft", "Fine-tune a checkpoint on instruction data (Alpaca or chat JSONL)", finetune);
}

}  // namespace gptforge::cli
