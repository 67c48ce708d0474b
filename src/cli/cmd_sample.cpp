// `gptforge sample --checkpoint C --prompt TEXT [overrides]`: continue a prompt, streaming the text.
// With --vote and sample.num_samples N: self-consistency, the N answers' majority (self_consistency.h).
#include <cstdio>

#include "cli/app.h"
#include "cli/generate_options.h"
#include "checkpoint/loaded_model.h"
#include "generate/sampler.h"
#include "generate/self_consistency.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/runtime.h"

namespace gptforge::cli {

namespace {

struct SampleArgs {
  CommonOptions common;
  std::string checkpoint;
  PromptOptions prompt;
  bool no_echo = false;
  bool vote = false;
  bool ignore_case = false;
};

void write_out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void run_sample(const SampleArgs& args) {
  Config cfg = load_command_config(args.common);
  const std::string prompt = resolve_prompt(args.prompt, cfg);
  GenerationOptions opts = GenerationOptions::from_config(cfg.sample, static_cast<uint64_t>(cfg.run.seed));
  opts.validate();  // before the checkpoint is read: a bad setting fails at once
  if (args.vote) {
    if (opts.beam_width > 1) throw UsageError("--vote: beam search returns ranked sequences, not samples to vote on (sample.beam_width 1)");
    if (opts.num_samples < 2) throw UsageError("--vote needs sample.num_samples >= 2, got " + std::to_string(opts.num_samples));
    opts.logprobs = true;  // ties go to the likelier answer
  }
  if (args.ignore_case && !args.vote) throw UsageError("--ignore-case applies to --vote only");

  LoadedModel m = load_model(args.checkpoint, resolve_device(cfg.run.device));
  log_info(describe(m));
  std::vector<int32_t> ids = encode_prompt(m.tokenizer, prompt);
  const int64_t block = m.config.model.block_size;
  if (static_cast<int64_t>(ids.size()) > block) {
    log_warn(strprintf("the prompt has %zu tokens; the model sees its last %lld (model.block_size)", ids.size(),
                       (long long)block));
  }

  GenerationStats stats;
  const bool stream = opts.num_samples == 1 && opts.beam_width == 1;
  GenerationCallbacks callbacks;
  if (stream) {
    if (!args.no_echo) write_out(prompt);
    callbacks.on_text = [](int, const std::string& text) { write_out(text); };
  }
  // Each sample is printed once its batch has ended: nothing holds all of them (the vote keeps only
  // each sample's normalised answer and log-probability).
  std::vector<std::string> answers;
  std::vector<double> logprobs;
  auto print = [&](int i, Generation&& g) {
    if (args.vote) {
      answers.push_back(normalize_answer(g.answer(), args.ignore_case));
      logprobs.push_back(g.logprob);
    }
    if (!stream) {
      std::string head = opts.beam_width > 1
                             ? strprintf("--- beam %d (score %.4f, log-probability %.4f) ---\n", i + 1, g.score, g.logprob)
                             : strprintf("--- sample %d ---\n", i + 1);
      write_out(head + (args.no_echo ? "" : prompt) + g.text + "\n");
    }
    log_debug(strprintf("sample %d: %zu tokens, ended by %s", i + 1, g.ids.size(), g.finish_reason.c_str()));
  };
  generate_each(m.model, ids, opts, &m.tokenizer, print, callbacks, &stats);
  if (stream) write_out("\n");
  if (args.vote) {
    const Vote v = majority_vote(answers, logprobs);
    write_out(strprintf("--- vote: %lld of %zu samples ---\n%s\n", (long long)v.votes, answers.size(), v.answer.c_str()));
  }
  log_info(stats.summary());
}

}  // namespace

void register_sample(CLI::App& app) {
  auto args = std::make_shared<SampleArgs>();
  auto* cmd = app.add_subcommand("sample", "Continue a prompt with a trained model, streaming the text (sample.* keys)");
  add_common_options(cmd, args->common);
  add_checkpoint_option(cmd, args->checkpoint);
  add_prompt_options(cmd, args->prompt);
  cmd->add_flag("--no-echo", args->no_echo, "Print only the generated text, not the prompt before it");
  cmd->add_flag("--vote", args->vote,
                "Self-consistency: after the sample.num_samples samples, print their most frequent answer (trimmed; "
                "after the last tool result with sample.tools; ties to the higher log-probability)");
  cmd->add_flag("--ignore-case", args->ignore_case, "With --vote: answers that differ only in ASCII case are one answer");
  cmd->footer(
      "An empty prompt starts a fresh document (from EOS). Strategy keys: sample.temperature (0 = greedy), "
      "sample.top_k, sample.top_p, sample.min_p, sample.repetition_penalty, sample.no_repeat_ngram, "
      "sample.beam_width, sample.length_penalty, sample.num_samples, sample.stop, sample.max_new_tokens; run.seed "
      "makes every strategy reproducible. sample.tools=[calc] lets a model trained with tool calls use the "
      "calculator. Tokens/s go to stderr.");
  cmd->callback([args] { run_sample(*args); });
}

}  // namespace gptforge::cli
