// `gptforge tasks --out DIR`: writes the synthetic instruction suite (data/task_suite.h).
#include <cstdio>
#include <filesystem>

#include "cli/app.h"
#include "data/task_suite.h"
#include "util/errors.h"

namespace gptforge::cli {

void register_tasks(CLI::App& app) {
  struct Args {
    std::string out = "data/tasks";
    int64_t train = 3000, test = 100;
    uint64_t seed = 1337;
    std::vector<std::string> only;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("tasks", "Write the synthetic instruction suite (train.jsonl, test.jsonl) for sft and eval");
  cmd->add_option("-o,--out", args->out, "Output directory")->capture_default_str();
  cmd->add_option("--train", args->train, "Training examples per unit of task weight (data/task_suite.h)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--test", args->test, "Test examples per task")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Seed")->capture_default_str();
  cmd->add_option("--only", args->only, "Write only these tasks (comma-separated names)")->delimiter(',');
  cmd->callback([args] {
    TaskSuiteOptions opts{args->train, args->test, args->seed, args->only};
    TaskSuite suite = make_task_suite(opts);
    std::filesystem::create_directories(args->out);
    write_instruct_jsonl(args->out + "/train.jsonl", suite.train);
    write_instruct_jsonl(args->out + "/test.jsonl", suite.test);
    std::string names;
    for (const auto& n : args->only.empty() ? task_names() : args->only) names += (names.empty() ? "" : ", ") + n;
    std::printf("wrote %s/train.jsonl (%zu examples) and %s/test.jsonl (%zu) for tasks: %s\n", args->out.c_str(),
                suite.train.size(), args->out.c_str(), suite.test.size(), names.c_str());
  });
}

}  // namespace gptforge::cli
