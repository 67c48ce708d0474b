// Exact-match evaluation on instruction tasks (`gptforge eval`): each test example's prompt (the
// conversation up to its last assistant turn) is rendered with the chat template, decoded greedily
// until <|end|>, and the reply compared with the expected answer after normalize_answer (surrounding
// whitespace trimmed; letters case-folded only for an example marked ignore_case). Accuracy per task
// and overall.
//
// Tools (opts.tools, tool_calls.h): the replies, greedy and sampled, may call the calculator; the
// answer compared is the text after the last tool result (Generation::answer).
//
// Self-consistency (samples > 0, generate/self_consistency.h): each example also gets `samples`
// answers drawn with the sampler's temperature, top_k, top_p and min_p (no penalties, as greedy has
// none), all of them rows of one batch (generate_detailed: one prefill, then one forward per step),
// and is scored three ways: greedy, the first sample alone, and the majority vote of all. Sample i of
// example j is drawn with its own generator seeded splitmix64(seed + j) + i (seed_per_row), so an
// example's samples depend neither on the other examples nor on `samples`: the first sample is the
// same with 1 sample as with 20, and the single-sample column is comparable across runs.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "checkpoint/loaded_model.h"
#include "data/instruct.h"
#include "generate/sampler.h"

namespace gptforge {

struct TaskScore {
  int64_t correct = 0, total = 0;              // greedy
  int64_t single_correct = 0, voted_correct = 0;  // self-consistency: the first sample, the vote
  double accuracy() const { return total ? double(correct) / total : 0.0; }
  double single_accuracy() const { return total ? double(single_correct) / total : 0.0; }
  double voted_accuracy() const { return total ? double(voted_correct) / total : 0.0; }
};

struct TaskPrediction {
  std::string task, prompt, want, got;  // got: the greedy reply (after its last tool result), trimmed
  std::string text;                     // with tools: the whole greedy reply, tool markers shown
  bool correct = false;
  // Self-consistency: every sample's answer (normalised), the vote's winner and its count.
  std::vector<std::string> samples;
  std::string voted;
  int64_t votes = 0;
  bool single_correct = false, voted_correct = false;
};

struct TaskEvalResult {
  std::string checkpoint;
  int64_t samples = 0;                        // self-consistency samples per example (0 = greedy only)
  std::map<std::string, TaskScore> per_task;  // by InstructExample::task ("" -> "all")
  TaskScore overall;
  std::vector<std::string> failures;  // a few greedy "prompt -> got (want)" lines, for a look
  std::vector<TaskPrediction> predictions;  // every example, in order
};

struct TaskEvalOptions {
  int64_t max_new_tokens = 256;  // bounds each reply
  int64_t samples = 0;           // self-consistency: answers sampled per example; 0 = greedy only
  // For the samples: temperature, top_k, top_p, min_p and seed (run.seed) are used; the rest is set
  // here (no penalties, <|end|> ends a reply, one generator per row).
  GenerationOptions sampling;
  std::vector<std::string> tools;  // the tools the replies may call (sample.tools); none when empty
};

TaskEvalResult evaluate_tasks(LoadedModel& m, const std::vector<InstructExample>& examples, const TaskEvalOptions& opts);

// Greedy only.
inline TaskEvalResult evaluate_tasks(LoadedModel& m, const std::vector<InstructExample>& examples,
                                     int64_t max_new_tokens) {
  TaskEvalOptions opts;
  opts.max_new_tokens = max_new_tokens;
  return evaluate_tasks(m, examples, opts);
}

// The seed of example `index`'s first sample (sample i uses it + i).
uint64_t example_seed(uint64_t seed, size_t index);

}  // namespace gptforge
