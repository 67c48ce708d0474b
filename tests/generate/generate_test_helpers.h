// Tiny random models and reference decoders shared by the generation tests.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/gpt.h"
#include "util/config.h"

namespace gptforge::testing {

// A random GPT small enough to decode hundreds of tokens in milliseconds: 2 layers, 4 heads of 8,
// context 16 (so generation soon slides the window), vocabulary `vocab`.
inline GPT random_gpt(int64_t vocab = 64, const char* position = "learned", uint64_t seed = 7) {
  ModelConfig cfg;
  cfg.vocab_size = vocab;
  cfg.block_size = 16;
  cfg.n_layer = 2;
  cfg.n_head = 4;
  cfg.d_model = 32;
  cfg.position = position;
  // A larger init than GPT-2's, so a random model has peaked, varied predictions.
  cfg.init_std = 0.3;
  torch::manual_seed(seed);
  GPT model(cfg);
  model->eval();
  return model;
}

// Log-probabilities (T, V) of the next token after each position of `ids` (at most block_size).
inline torch::Tensor next_token_logprobs(GPT& model, const std::vector<int32_t>& ids) {
  torch::NoGradGuard no_grad;
  auto idx = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
  return torch::log_softmax(model->forward(idx)[0].to(torch::kDouble), -1);
}

// Total log-probability the model gives `continuation` after `prompt` (prompt + continuation must
// fit in block_size).
inline double sequence_logprob(GPT& model, const std::vector<int32_t>& prompt, const std::vector<int32_t>& continuation) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), continuation.begin(), continuation.end());
  auto lp = next_token_logprobs(model, all);
  double sum = 0;
  for (size_t i = 0; i < continuation.size(); ++i) {
    sum += lp[static_cast<int64_t>(prompt.size() + i - 1)][continuation[i]].item<double>();
  }
  return sum;
}

// Greedy decoding the plain way: a full forward over the window for every token, the window
// sliding to its most recent block_size / 2 tokens when it overflows (the sampler's documented
// semantics).
inline std::vector<int32_t> reference_greedy(GPT& model, const std::vector<int32_t>& prompt, int64_t new_tokens) {
  const size_t block = static_cast<size_t>(model->config().block_size);
  std::vector<int32_t> window = prompt, out;
  if (window.size() > block) window.erase(window.begin(), window.end() - static_cast<std::ptrdiff_t>(block));
  for (int64_t i = 0; i < new_tokens; ++i) {
    auto lp = next_token_logprobs(model, window);
    auto id = static_cast<int32_t>(lp[lp.size(0) - 1].argmax().item<int64_t>());
    out.push_back(id);
    window.push_back(id);
    if (window.size() > block) {
      window.erase(window.begin(), window.end() - static_cast<std::ptrdiff_t>(std::max<size_t>(1, block / 2)));
    }
  }
  return out;
}

}  // namespace gptforge::testing
