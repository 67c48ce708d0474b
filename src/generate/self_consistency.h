// Self-consistency (Wang et al., 2022): sample several answers to one question and answer with the
// one given most often. A model that reaches the right answer by several paths and a wrong one by
// only a few gains over a single sample, and often over greedy decoding.
//
// The answers are compared after normalize_answer (surrounding whitespace trimmed; ASCII letters
// lower-cased only where the task says case does not matter). The most frequent wins; between
// answers given equally often, the one whose most likely sample has the higher total
// log-probability (Generation::logprob) wins, and between equal ones too, the one sampled first, so
// the vote is a function of its inputs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gptforge {

struct Vote {
  std::string answer;   // the winning answer (normalised)
  int64_t votes = 0;    // how many samples gave it
  double logprob = 0;   // the highest total log-probability among those samples
  size_t first = 0;     // the index of the first sample that gave it
};

// `text` without surrounding whitespace; with ignore_case its ASCII letters lower-cased (other
// bytes, UTF-8 included, are kept as they are).
std::string normalize_answer(const std::string& text, bool ignore_case);

// The majority of `answers` (already normalised), ties broken as above. `logprobs[i]` belongs to
// answers[i]. Throws std::invalid_argument for no answers or sizes that differ.
Vote majority_vote(const std::vector<std::string>& answers, const std::vector<double>& logprobs);

}  // namespace gptforge
