// `gptforge eval --checkpoint C [--checkpoint C2 ...] --tasks FILE`: exact-match accuracy per task,
// one column per checkpoint (say the base model and its fine-tune, for before versus after). With
// --self-consistency N, one table per checkpoint: greedy, single-sample and voted accuracy per task
// (generate/task_eval.h), the samples drawn with the sample.* temperature, top_k, top_p and min_p.
// With sample.tools, each checkpoint is evaluated twice, with the tools ("C +calc") and without
// ("C"), so that what the tool adds is beside what the model does alone.
// `gptforge eval --checkpoint C [...] --text FILE...`: loss, perplexity and bits per byte of each
// checkpoint on text or JSONL (generate/text_eval.h), one row per checkpoint.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <regex>

#include "cli/app.h"
#include "data/prepare.h"
#include "generate/task_eval.h"
#include "generate/text_eval.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"
#include "util/runtime.h"

namespace gptforge::cli {

namespace {

// CLI11 lets `--text` take every argument after it, overrides included: `--text a.txt eval.stride=64`
// would read a file named "eval.stride=64". An argument of the form section.key=value that is not
// an existing path goes back to the overrides.
void split_overrides(std::vector<std::string>& files, std::vector<std::string>& overrides) {
  static const std::regex override_form(R"([a-z_]+(\.[a-z_0-9]+)+=.*)");
  std::vector<std::string> kept;
  for (auto& f : files) {
    if (std::regex_match(f, override_form) && !std::filesystem::exists(f)) {
      overrides.push_back(std::move(f));
    } else {
      kept.push_back(std::move(f));
    }
  }
  files = std::move(kept);
}

void eval_text(const Config& cfg, const std::vector<std::string>& checkpoints, const std::vector<std::string>& files,
               const std::string& json_path) {
  const EvalText text = read_eval_text(files, corpus_options(cfg.data));
  log_info(strprintf("%lld document(s), %lld bytes in %zu file(s)", static_cast<long long>(text.documents),
                     static_cast<long long>(text.bytes), files.size()));
  if (text.invalid_utf8 > 0) {
    log_warn(strprintf("%lld invalid UTF-8 sequence(s) were replaced with U+FFFD and counted as its 3 bytes",
                       static_cast<long long>(text.invalid_utf8)));
  }
  TextEvalOptions opts;
  opts.stride = cfg.eval.stride;
  opts.batch_size = cfg.eval.batch_size;
  opts.progress = cfg.run.progress;
  const torch::Device device = resolve_device(cfg.run.device);
  std::vector<TextEvalResult> results;
  for (const auto& path : checkpoints) {
    LoadedModel m = load_model(path, device);
    log_info("evaluating " + describe(m));
    results.push_back(evaluate_text(m, text, opts));
  }
  std::printf("%-40s %8s %7s %12s %10s %12s %10s\n", "checkpoint", "context", "stride", "tokens", "loss",
              "perplexity", "bits/byte");
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const TextEvalResult& r = results[i];
    std::printf("%-40s %8lld %7lld %12lld %10.4f %12.3f %10.4f\n", checkpoints[i].c_str(), (long long)r.context,
                (long long)r.stride, (long long)r.tokens, r.loss(), r.perplexity(), r.bits_per_byte());
    rows.push_back({{"checkpoint", checkpoints[i]}, {"dir", r.checkpoint}, {"context", r.context},
                    {"stride", r.stride}, {"tokens", r.tokens}, {"scored_tokens", r.score.scored},
                    {"loss_nats_sum", r.score.loss_sum}, {"loss", r.loss()}, {"perplexity", r.perplexity()},
                    {"bits_per_byte", r.bits_per_byte()}});
  }
  if (!json_path.empty()) {
    nlohmann::json out = {{"files", files},          {"documents", text.documents},
                          {"bytes", text.bytes},     {"invalid_utf8", text.invalid_utf8},
                          {"results", rows}};
    write_file_atomic(json_path, out.dump(2) + "\n");
  }
}

// One column per checkpoint: greedy accuracy (correct/total).
void print_greedy(const std::vector<TaskEvalResult>& results, const std::vector<std::string>& checkpoints) {
  std::printf("%-10s", "task");
  for (size_t i = 0; i < results.size(); ++i) std::printf("  %22s", checkpoints[i].c_str());
  std::printf("\n");
  for (const auto& [task, score] : results.front().per_task) {
    std::printf("%-10s", task.c_str());
    for (const auto& r : results) {
      const TaskScore& s = r.per_task.at(task);
      std::printf("  %13.1f%% (%3lld/%3lld)", 100 * s.accuracy(), (long long)s.correct, (long long)s.total);
    }
    std::printf("\n");
  }
  std::printf("%-10s", "overall");
  for (const auto& r : results) {
    std::printf("  %13.1f%% (%3lld/%3lld)", 100 * r.overall.accuracy(), (long long)r.overall.correct,
                (long long)r.overall.total);
  }
  std::printf("\n");
}

// One table per checkpoint: greedy, the first sample alone and the vote of all, side by side.
void print_self_consistency(const std::vector<TaskEvalResult>& results, const std::vector<std::string>& checkpoints,
                            const Config& cfg) {
  for (size_t i = 0; i < results.size(); ++i) {
    const TaskEvalResult& r = results[i];
    std::printf("%s%s: self-consistency, %lld samples (temperature %g, top_k %lld, top_p %g, min_p %g)\n",
                i ? "\n" : "", checkpoints[i].c_str(), (long long)r.samples, cfg.sample.temperature,
                (long long)cfg.sample.top_k, cfg.sample.top_p, cfg.sample.min_p);
    const std::string vote = "vote of " + std::to_string(r.samples);
    std::printf("%-10s  %17s  %17s  %17s\n", "task", "greedy", "1 sample", vote.c_str());
    auto row = [](const std::string& name, const TaskScore& s) {
      std::printf("%-10s", name.c_str());
      for (int64_t c : {s.correct, s.single_correct, s.voted_correct}) {
        std::printf("  %6.1f%% (%3lld/%3lld)", s.total ? 100.0 * c / s.total : 0.0, (long long)c, (long long)s.total);
      }
      std::printf("\n");
    };
    for (const auto& [task, score] : r.per_task) row(task, score);
    row("overall", r.overall);
  }
}

nlohmann::json score_json(const TaskScore& s, bool self_consistency) {
  nlohmann::json j = {{"total", s.total}, {"greedy", {{"correct", s.correct}, {"accuracy", s.accuracy()}}}};
  if (self_consistency) {
    j["single"] = {{"correct", s.single_correct}, {"accuracy", s.single_accuracy()}};
    j["voted"] = {{"correct", s.voted_correct}, {"accuracy", s.voted_accuracy()}};
  }
  return j;
}

nlohmann::json tasks_json(const std::vector<TaskEvalResult>& results, const std::vector<std::string>& checkpoints,
                          const std::string& tasks_file, const Config& cfg) {
  const int64_t samples = results.front().samples;
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const TaskEvalResult& r = results[i];
    nlohmann::json per_task = nlohmann::json::object();
    for (const auto& [task, s] : r.per_task) per_task[task] = score_json(s, samples > 0);
    rows.push_back({{"checkpoint", checkpoints[i]}, {"dir", r.checkpoint}, {"per_task", per_task},
                    {"overall", score_json(r.overall, samples > 0)}});
  }
  nlohmann::json out = {{"tasks", tasks_file}, {"max_new_tokens", cfg.sample.max_new_tokens},
                        {"self_consistency", samples}, {"results", rows}};
  if (samples > 0) {
    out["sampler"] = {{"temperature", cfg.sample.temperature}, {"top_k", cfg.sample.top_k}, {"top_p", cfg.sample.top_p},
                      {"min_p", cfg.sample.min_p}, {"seed", cfg.run.seed}};
  }
  return out;
}

// Every example's prompt, expected and generated answer as JSONL; the samples with self-consistency,
// the whole reply (tool markers shown) with tools.
void write_predictions(const std::string& path, const TaskEvalResult& r, const TaskEvalOptions& opts) {
  std::string out;
  for (const auto& p : r.predictions) {
    nlohmann::json j = {{"task", p.task}, {"prompt", p.prompt}, {"want", p.want}, {"got", p.got}, {"correct", p.correct}};
    if (opts.samples > 0) {
      j.update({{"samples", p.samples}, {"single_correct", p.single_correct}, {"voted", p.voted}, {"votes", p.votes},
                {"voted_correct", p.voted_correct}});
    }
    if (!opts.tools.empty()) j["text"] = p.text;
    out += j.dump() + "\n";
  }
  write_file_atomic(path, out);
}

}  // namespace

void register_eval(CLI::App& app) {
  struct Args {
    CommonOptions common;
    std::vector<std::string> checkpoints;
    std::string tasks;
    std::vector<std::string> text;
    std::string json;
    int64_t limit = 0;
    std::string predictions;
    int64_t self_consistency = 0;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "eval", "Exact-match accuracy of checkpoints on an instruction task file (greedy, --tasks), or their loss, "
              "perplexity and bits per byte on text (--text)");
  add_common_options(cmd, args->common);
  cmd->add_option("--checkpoint", args->checkpoints, "Checkpoint or run directory; repeat to compare")->required();
  cmd->add_option("--tasks", args->tasks, "Instruction JSONL (e.g. data/tasks/test.jsonl from `gptforge tasks`)");
  cmd->add_option("--text", args->text,
                  "Text or JSONL files to score (read as prepare reads data.inputs; windows of the context, "
                  "eval.stride apart)");
  cmd->add_option("--json", args->json, "Also write the figures as JSON here");
  cmd->add_option("--self-consistency", args->self_consistency,
                  "--tasks: also sample N answers per example (sample.temperature, top_k, top_p, min_p; run.seed) "
                  "and report single-sample and majority-vote accuracy beside greedy")
      ->check(CLI::Range(int64_t{1}, int64_t{1024}));
  cmd->add_option("--limit", args->limit, "Evaluate only the first N examples (0 = all)");
  cmd->add_option("--predictions", args->predictions,
                  "Write every example's prompt, expected and generated answer as JSONL here (the first "
                  "checkpoint's; with several, FILE.1, FILE.2... for the others, in the order of the columns)");
  cmd->callback([args] {
    split_overrides(args->text, args->common.overrides);
    Config cfg = load_command_config(args->common);
    if (args->tasks.empty() == args->text.empty()) throw UsageError("eval needs exactly one of --tasks FILE or --text FILE...");
    if (!args->text.empty()) {
      if (!args->predictions.empty() || args->limit != 0 || args->self_consistency != 0) {
        throw UsageError("--predictions, --limit and --self-consistency go with --tasks");
      }
      eval_text(cfg, args->checkpoints, args->text, args->json);
      return;
    }
    if (args->self_consistency > 0 && cfg.sample.beam_width > 1) {
      throw UsageError("--self-consistency samples its answers: sample.beam_width must be 1");
    }
    TaskEvalOptions opts;
    opts.max_new_tokens = cfg.sample.max_new_tokens;
    opts.samples = args->self_consistency;
    opts.sampling = GenerationOptions::from_config(cfg.sample, cfg.run.seed);
    opts.sampling.validate();  // sample.tools too, before any checkpoint is read
    const std::vector<std::string> tools = cfg.sample.tools;
    std::string tools_label;
    for (const auto& t : tools) tools_label += " +" + t;
    std::vector<std::string> labels;  // one per column: the checkpoint, and with tools which run
    auto examples = read_instruct_file(args->tasks, "auto", false);
    if (args->limit > 0 && static_cast<int64_t>(examples.size()) > args->limit) examples.resize(args->limit);
    torch::Device device = resolve_device(cfg.run.device);
    std::vector<TaskEvalResult> results;
    for (const auto& path : args->checkpoints) {
      LoadedModel m = load_model(path, device);
      // With tools, each checkpoint twice: with them, then without, so that what they add is beside it.
      std::vector<std::vector<std::string>> runs = {tools};
      if (!tools.empty()) runs.push_back({});
      for (const auto& run_tools : runs) {
        opts.tools = run_tools;
        labels.push_back(path + (run_tools.empty() ? "" : tools_label));
        log_info("evaluating " + describe(m) + " on " + std::to_string(examples.size()) + " examples" +
                 (!run_tools.empty() ? " with" + tools_label : tools.empty() ? "" : " without tools"));
        results.push_back(evaluate_tasks(m, examples, opts));
        for (const auto& f : results.back().failures) log_info("  miss: " + f);
        if (!args->predictions.empty()) {
          const size_t i = results.size() - 1;
          write_predictions(i == 0 ? args->predictions : args->predictions + "." + std::to_string(i), results.back(),
                            opts);
        }
      }
    }
    if (args->self_consistency > 0) {
      print_self_consistency(results, labels, cfg);
    } else {
      print_greedy(results, labels);
    }
    if (!args->json.empty()) write_file_atomic(args->json, tasks_json(results, labels, args->tasks, cfg).dump(2) + "\n");
  });
}

}  // namespace gptforge::cli
