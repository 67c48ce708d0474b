// Pieces shared by the sampling loop (sampler.cpp) and beam search (beam_search.cpp).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "generate/sampler.h"

namespace gptforge {

// The ids that end a sequence: EOS when opts.stop_at_eos (the tokenizer's, or kEosId without one)
// and opts.stop_ids.
std::vector<int32_t> end_ids(const GenerationOptions& opts, const Tokenizer* tok);
inline bool contains(const std::vector<int32_t>& ids, int32_t id) {
  for (int32_t x : ids) {
    if (x == id) return true;
  }
  return false;
}

// Common checks of both paths: valid options, a prompt, stop strings only with a tokenizer.
void check_generation_inputs(const std::vector<int32_t>& prompt_ids, const GenerationOptions& opts,
                             const Tokenizer* tok);

// (rows, V) bool on `device`: true for the ids of `prompt` (for the repetition penalty).
torch::Tensor presence_mask(const std::vector<int32_t>& prompt, int64_t rows, int64_t vocab,
                            const torch::Device& device);

// The penalties every strategy applies, in order: repetition penalty (when != 1, on `present`),
// no-repeat n-gram (when > 0, on `histories`); then -inf for ids the tokenizer does not have (a
// model whose vocabulary is larger than its tokenizer's).
torch::Tensor apply_penalties(torch::Tensor logits, const GenerationOptions& opts, const torch::Tensor& present,
                              const std::vector<std::vector<int32_t>>& histories, const Tokenizer* tok);

// The next id of each row of penalised logits (B, V), (B) int64 on their device: argmax when
// greedy, else temperature, top-k, top-p, min-p (each only when on) and one inverse-CDF draw per row
// from `gen` (B uniforms). The sampling loop's choice; the server's batch calls it row by row.
torch::Tensor next_tokens(torch::Tensor logits, const GenerationOptions& opts, at::Generator& gen);

}  // namespace gptforge
