// `gptforge eval --checkpoint C [--checkpoint C2 ...] --tasks FILE`: exact-match accuracy per task,
// one column per checkpoint (say the base model and its fine-tune, for before versus after).
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/app.h"
#include "generate/task_eval.h"
#include "util/files.h"
#include "util/log.h"
#include "util/runtime.h"

namespace gptforge::cli {

void register_eval(CLI::App& app) {
  struct Args {
    CommonOptions common;
    std::vector<std::string> checkpoints;
    std::string tasks;
    int64_t limit = 0;
    std::string predictions;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("eval", "Exact-match accuracy of checkpoints on an instruction task file (greedy)");
  add_common_options(cmd, args->common);
  cmd->add_option("--checkpoint", args->checkpoints, "Checkpoint or run directory; repeat to compare")->required();
  cmd->add_option("--tasks", args->tasks, "Instruction JSONL (e.g. data/tasks/test.jsonl from `gptforge tasks`)")
      ->required();
  cmd->add_option("--limit", args->limit, "Evaluate only the first N examples (0 = all)");
  cmd->add_option("--predictions", args->predictions,
                  "Write every example's prompt, expected and generated answer as JSONL here (the first "
                  "checkpoint's; with several, FILE.1, FILE.2... for the others)");
  cmd->callback([args] {
    Config cfg = load_command_config(args->common);
    auto examples = read_instruct_file(args->tasks, "auto", false);
    if (args->limit > 0 && static_cast<int64_t>(examples.size()) > args->limit) examples.resize(args->limit);
    torch::Device device = resolve_device(cfg.run.device);
    std::vector<TaskEvalResult> results;
    for (const auto& path : args->checkpoints) {
      LoadedModel m = load_model(path, device);
      log_info("evaluating " + describe(m) + " on " + std::to_string(examples.size()) + " examples");
      results.push_back(evaluate_tasks(m, examples, cfg.sample.max_new_tokens));
      for (const auto& f : results.back().failures) log_info("  miss: " + f);
      if (!args->predictions.empty()) {
        const size_t i = results.size() - 1;
        std::string out;
        for (const auto& p : results.back().predictions) {
          out += nlohmann::json({{"task", p.task}, {"prompt", p.prompt}, {"want", p.want}, {"got", p.got},
                                 {"correct", p.correct}})
                     .dump() +
                 "\n";
        }
        write_file_atomic(i == 0 ? args->predictions : args->predictions + "." + std::to_string(i), out);
      }
    }
    std::printf("%-10s", "task");
    for (size_t i = 0; i < results.size(); ++i) std::printf("  %22s", args->checkpoints[i].c_str());
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
  });
}

}  // namespace gptforge::cli
