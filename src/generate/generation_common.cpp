#include "generate/generation_common.h"

#include <limits>

#include "generate/logits_processors.h"
#include "util/errors.h"

namespace gptforge {

std::vector<int32_t> end_ids(const GenerationOptions& opts, const Tokenizer* tok) {
  std::vector<int32_t> ids = opts.stop_ids;
  if (opts.stop_at_eos) ids.push_back(tok ? tok->eos_id() : kEosId);
  return ids;
}

void check_generation_inputs(const std::vector<int32_t>& prompt_ids, const GenerationOptions& opts,
                             const Tokenizer* tok) {
  opts.validate();
  if (prompt_ids.empty()) throw RunError("generation needs a non-empty prompt (start from EOS for a fresh document)");
  if (!tok && !opts.stop.empty()) throw ConfigError("sample.stop: stop strings need a tokenizer");
  if (!opts.tools.empty()) {
    if (!tok) throw ConfigError("sample.tools: tool calls need a tokenizer");
    if (!tok->has_tool_tokens()) {
      throw ConfigError("sample.tools: the tokenizer has no tool tokens (<|tool_call|>, <|tool_result|>, <|tool_end|>): "
                        "it was trained before they were reserved; train a new tokenizer and model to use tools");
    }
  }
}

torch::Tensor presence_mask(const std::vector<int32_t>& prompt, int64_t rows, int64_t vocab,
                            const torch::Device& device) {
  auto present = torch::zeros({1, vocab}, torch::TensorOptions().dtype(torch::kBool));
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  present.index_fill_(1, torch::tensor(ids, torch::kLong), true);
  return present.repeat({rows, 1}).to(device);
}

torch::Tensor apply_penalties(torch::Tensor logits, const GenerationOptions& opts, const torch::Tensor& present,
                              const std::vector<std::vector<int32_t>>& histories, const Tokenizer* tok) {
  if (opts.repetition_penalty != 1.0) logits = apply_repetition_penalty(logits, present, opts.repetition_penalty);
  if (opts.no_repeat_ngram > 0) logits = block_repeated_ngrams(logits, histories, opts.no_repeat_ngram);
  const int64_t vocab = logits.size(-1);
  if (tok && tok->vocab_size() < vocab) {
    logits = logits.clone();
    logits.narrow(-1, tok->vocab_size(), vocab - tok->vocab_size()).fill_(-std::numeric_limits<double>::infinity());
  }
  return logits;
}

}  // namespace gptforge
