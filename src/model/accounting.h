// Parameter and FLOP counts from the config alone, before any tensor exists.
#pragma once
#include <cstdint>

#include "model/model_config.h"

namespace gptforge {

// Parameters of GPT(cfg), equal to the sum of numel over its parameters(). include_embeddings=false
// leaves out the lookup tables wte (vocab_size x d_model) and wpe (learned positions); with tied
// embeddings the shared LM head goes with wte, an untied lm_head is counted.
int64_t count_params(const ModelConfig& cfg, bool include_embeddings);

// Weights that multiply activations once per token: the linear layers of every block plus the LM
// head (vocab_size x d_model, counted also when tied). Biases, norms and lookups left out.
int64_t matmul_params(const ModelConfig& cfg);

// Training (forward + backward) FLOPs per token at context length seq_len, as in PaLM's appendix B
// (also nanoGPT's MFU estimate):
//   6 * matmul_params(cfg)                            2 FLOPs per multiply-add forward, 4 backward
//   + 12 * n_layer * n_head * head_dim * seq_len      q.k scores and probs.v: 2 * 2 * C * T forward,
//                                                     twice that backward; full T x T, no causal halving
// Elementwise work (norms, activations, softmax, biases) is left out. GQA only shrinks k/v
// projections, which matmul_params already accounts for.
double flops_per_token(const ModelConfig& cfg, int64_t seq_len);

}  // namespace gptforge
