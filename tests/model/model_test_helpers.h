// Tiny model configs and comparisons shared by the model tests.
#pragma once
#include <torch/torch.h>

#include <string>

#include "util/config.h"

namespace gptforge::testing {

// A model small enough to build and run in milliseconds: 2 layers, 4 heads of 8, vocab 32,
// context 16, GPT-2 style unless changed.
inline ModelConfig tiny_config() {
  ModelConfig m;
  m.vocab_size = 32;
  m.block_size = 16;
  m.n_layer = 2;
  m.n_head = 4;
  m.d_model = 32;
  m.dropout = 0.0;
  return m;
}

// tiny_config() in the Llama style: RoPE, RMSNorm, SwiGLU, no biases, untied head.
inline ModelConfig tiny_llama_config() {
  ModelConfig m = tiny_config();
  m.family = "llama";
  apply_family_preset(m);
  return m;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Token ids in [0, vocab) of shape (batch, t).
inline torch::Tensor random_tokens(int64_t vocab, int64_t batch, int64_t t) {
  return torch::randint(vocab, {batch, t}, torch::TensorOptions().dtype(torch::kLong));
}

}  // namespace gptforge::testing
