// A synthetic instruction suite whose answers can be checked exactly, to prove that fine-tuning
// works: `gptforge tasks --out DIR` writes DIR/train.jsonl and DIR/test.jsonl in chat format, each
// record tagged with its task. Test instances never occur in the training file, and every task has
// phrasings that only the test file uses.
//
//   add      What is 37 plus 45?                       -> 82
//   reverse  Reverse the order of: red cat big          -> big cat red
//   upper    Write in capital letters: red garden       -> RED GARDEN
//   count    How many words are in: tree dog sun hat    -> 4
//   sort     Sort from smallest to largest: 7 2 9       -> 2 7 9
//   lookup   Table: plum=3, pear=8, fig=1. What is pear? -> 8
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
};

struct TaskSuite {
  std::vector<InstructExample> train, test;
};

TaskSuite make_task_suite(const TaskSuiteOptions& opts);
std::vector<std::string> task_names();

// One JSON line per example: {"task": ..., "messages": [{"role": "user", ...}, {"role": "assistant", ...}]}.
void write_instruct_jsonl(const std::string& path, const std::vector<InstructExample>& examples);

}  // namespace gptforge
