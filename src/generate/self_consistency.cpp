#include "generate/self_consistency.h"

#include <map>
#include <stdexcept>

namespace gptforge {

std::string normalize_answer(const std::string& text, bool ignore_case) {
  const size_t b = text.find_first_not_of(" \t\r\n"), e = text.find_last_not_of(" \t\r\n");
  std::string s = b == std::string::npos ? "" : text.substr(b, e - b + 1);
  if (ignore_case) {
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

Vote majority_vote(const std::vector<std::string>& answers, const std::vector<double>& logprobs) {
  if (answers.empty()) throw std::invalid_argument("majority_vote: no answers");
  if (answers.size() != logprobs.size()) throw std::invalid_argument("majority_vote: one log-probability per answer");
  std::map<std::string, Vote> tally;
  for (size_t i = 0; i < answers.size(); ++i) {
    auto [it, fresh] = tally.try_emplace(answers[i]);
    Vote& v = it->second;
    if (fresh) {
      v.answer = answers[i];
      v.logprob = logprobs[i];
      v.first = i;
    } else if (logprobs[i] > v.logprob) {
      v.logprob = logprobs[i];
    }
    ++v.votes;
  }
  const Vote* best = nullptr;
  for (const auto& [answer, v] : tally) {
    const bool better = !best || v.votes > best->votes ||
                        (v.votes == best->votes && (v.logprob > best->logprob ||
                                                    (v.logprob == best->logprob && v.first < best->first)));
    if (better) best = &v;
  }
  return *best;
}

}  // namespace gptforge
