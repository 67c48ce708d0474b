// Logits processors: pure functions that reshape next-token logits (B, V) before sampling. Each
// returns a new tensor on the same device; a removed token gets -inf. The sampler applies them in
// this order (sampler.h):
//
//   repetition penalty -> no-repeat n-gram -> temperature -> top-k -> top-p -> min-p
//
// The penalties first, so they act on the model's own scale; temperature before the filters, so
// top-p and min-p see the distribution that is sampled from. top-k, top-p and min-p never remove
// the most likely token. (The sampler does top-k by keeping only the k best columns, which gives the
// same distribution as top_k_filter at a fraction of the work for the later steps.)
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gptforge {

// CTRL (Keskar et al. 2019): for every token present in the row's context, a positive logit is
// divided by `penalty` and a negative one multiplied by it. present: (B, V) bool.
torch::Tensor apply_repetition_penalty(const torch::Tensor& logits, const torch::Tensor& present, double penalty);

// The tokens that would complete an n-gram already in `history`: for every earlier occurrence of
// the last n-1 tokens, the token that followed it. Empty when history is shorter than n - 1.
std::vector<int32_t> banned_ngram_tokens(const std::vector<int32_t>& history, int64_t n);
// Sets the logits of banned_ngram_tokens(histories[b], n) to -inf in row b.
torch::Tensor block_repeated_ngrams(const torch::Tensor& logits, const std::vector<std::vector<int32_t>>& histories,
                                    int64_t n);

// logits / temperature (temperature > 0).
torch::Tensor apply_temperature(const torch::Tensor& logits, double temperature);

// Keeps the k largest logits of each row (exactly k; k >= V keeps all).
torch::Tensor top_k_filter(const torch::Tensor& logits, int64_t k);

// Nucleus (Holtzman et al. 2019): keeps the smallest set of most likely tokens whose probabilities
// sum to at least p, i.e. token i of the descending order stays while the mass before it is < p.
torch::Tensor top_p_filter(const torch::Tensor& logits, double p);

// Keeps tokens whose probability is at least min_p times the row's top probability, computed on
// logits: logit >= max_logit + log(min_p).
torch::Tensor min_p_filter(const torch::Tensor& logits, double min_p);

}  // namespace gptforge
