// Exact-match evaluation on instruction tasks (`gptforge eval`): each test example's prompt (the
// conversation up to its last assistant turn) is rendered with the chat template, decoded greedily
// until <|end|>, and the reply compared with the expected answer after trimming surrounding
// whitespace. Accuracy per task and overall.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "checkpoint/loaded_model.h"
#include "data/instruct.h"

namespace gptforge {

struct TaskScore {
  int64_t correct = 0, total = 0;
  double accuracy() const { return total ? double(correct) / total : 0.0; }
};

struct TaskPrediction {
  std::string task, prompt, want, got;
  bool correct = false;
};

struct TaskEvalResult {
  std::string checkpoint;
  std::map<std::string, TaskScore> per_task;  // by InstructExample::task ("" -> "all")
  TaskScore overall;
  std::vector<std::string> failures;  // a few "prompt -> got (want)" lines, for a look
  std::vector<TaskPrediction> predictions;  // every example, in order
};

// max_new_tokens bounds each reply.
TaskEvalResult evaluate_tasks(LoadedModel& m, const std::vector<InstructExample>& examples, int64_t max_new_tokens);

}  // namespace gptforge
