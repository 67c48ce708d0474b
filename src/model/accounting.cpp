#include "model/accounting.h"

namespace gptforge {
namespace {

// Linear weights of one block: q, k, v, o projections and the MLP.
int64_t block_matmul_params(const ModelConfig& cfg) {
  const int64_t c = cfg.d_model, kv = cfg.kv_heads() * cfg.head_dim(), f = cfg.hidden_size();
  const int64_t attn = c * c + 2 * c * kv + c * c;
  const int64_t mlp = (cfg.activation == Activation::SwiGlu ? 3 : 2) * c * f;
  return attn + mlp;
}

// Biases and norm weights of one block.
int64_t block_small_params(const ModelConfig& cfg) {
  const int64_t c = cfg.d_model, kv = cfg.kv_heads() * cfg.head_dim(), f = cfg.hidden_size();
  const int64_t norm = (cfg.norm == NormType::LayerNorm && cfg.bias) ? 2 * c : c;
  int64_t n = 2 * norm;  // ln_1, ln_2
  if (cfg.bias) n += c + 2 * kv + c + (cfg.activation == Activation::SwiGlu ? 2 * f : f) + c;
  return n;
}

}  // namespace

int64_t count_params(const ModelConfig& cfg, bool include_embeddings) {
  const int64_t c = cfg.d_model;
  int64_t n = cfg.n_layer * (block_matmul_params(cfg) + block_small_params(cfg));
  n += (cfg.norm == NormType::LayerNorm && cfg.bias) ? 2 * c : c;   // ln_f
  if (!cfg.tie_embeddings) n += cfg.vocab_size * c;          // lm_head
  if (include_embeddings) {
    n += cfg.vocab_size * c;                                  // wte
    if (cfg.position == Position::Learned) n += cfg.block_size * c;  // wpe
  }
  return n;
}

int64_t matmul_params(const ModelConfig& cfg) {
  return cfg.n_layer * block_matmul_params(cfg) + cfg.vocab_size * cfg.d_model;
}

double flops_per_token(const ModelConfig& cfg, int64_t seq_len) {
  const double attention = 12.0 * static_cast<double>(cfg.n_layer) * static_cast<double>(cfg.n_head) *
                           static_cast<double>(cfg.head_dim()) * static_cast<double>(seq_len);
  return 6.0 * static_cast<double>(matmul_params(cfg)) + attention;
}

}  // namespace gptforge
