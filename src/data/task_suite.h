// A synthetic instruction suite whose answers can be checked exactly, to prove that fine-tuning
// works: `gptforge tasks --out DIR` writes DIR/train.jsonl and DIR/test.jsonl in chat format, each
// record tagged with its task. Test instances never occur in the training file, and every task has
// a phrasing that only the test file uses. Training prompts start with a random neutral opening
// ("Task: ", "Quick question: ", or none) so that no task can be told by its first words alone.
//
//   add      What is 3 plus 5 plus 8?                  -> 16                 (one-digit numbers)
//   reverse  Reverse the order of: red cat big          -> big cat red        (3 or 4 words)
//   upper    Write in capital letters: red garden       -> RED GARDEN
//   count    How many words are in: tree dog sun hat    -> 4
//   sort     Sort from smallest to largest: 7 2 9       -> 2 7 9
//   lookup   Table: Mary: age 7, room 4, floor 2. What is Mary's room? -> 4   (fields in a fixed order)
//   arith    What is 37 times 45?  -> <|tool_call|>37 * 45<|tool_end|><|tool_result|>1665<|tool_end|>1665
//            (two- and three-digit + - *, answered with the calculator: sample.tools [calc])
//
// Sizes are chosen for the tiny model (configs/tiny.yaml) and a 15-minute fine-tune on 2 CPU cores;
// README "The task suite" has what it reaches. --train N writes N examples of each weight-1 task;
// reverse weighs 3, add, upper and arith 2 (they gain the most from more steps). --only NAME,...
// writes some of the tasks (the same instances as in the whole suite are not promised).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/instruct.h"

namespace gptforge {

struct TaskSuiteOptions {
  int64_t train_per_task = 3000;
  int64_t test_per_task = 100;
  uint64_t seed = 1337;
  std::vector<std::string> only;  // these tasks only (empty: all); UsageError for an unknown name
};

struct TaskSuite {
  std::vector<InstructExample> train, test;
};

TaskSuite make_task_suite(const TaskSuiteOptions& opts);
std::vector<std::string> task_names();

// One JSON line per example: {"task": ..., "messages": [{"role": "user", ...}, {"role": "assistant", ...}]}.
void write_instruct_jsonl(const std::string& path, const std::vector<InstructExample>& examples);

}  // namespace gptforge
