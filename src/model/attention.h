// Causal self-attention with separate q/k/v projections, so multi-head (n_kv_head = n_head),
// grouped-query (n_head divisible by n_kv_head) and multi-query (n_kv_head = 1) attention share one
// code path. Query head h reads key/value head h / (n_head / n_kv_head), as HF's repeat_kv.
//
//   q, k, v = x Wq^T, x Wk^T, x Wv^T          (+ biases with model.bias)
//   q, k    = rope(q), rope(k)                 (model.position = rope)
//   y       = softmax(q k^T / sqrt(head_dim) + causal mask) v
//   out     = dropout(y Wo^T)                  (residual dropout)
//
// Parameters: q_proj (n_head*hd, C), k_proj and v_proj (n_kv_head*hd, C), o_proj (C, C), in
// torch's (out, in) layout; biases (out) with model.bias.
#pragma once
#include <torch/torch.h>

#include <cstdint>

#include "model/lora.h"
#include "model/model_config.h"

namespace gptforge {

class KVCache;
class SlotKVCache;

// What every layer's attention needs for one forward pass; GPTImpl prepares it once per pass.
struct AttentionInputs {
  torch::Tensor rope_cos, rope_sin;  // (T, head_dim/2) for the new tokens' positions; undefined without RoPE
  torch::Tensor causal_mask;         // (block_size, block_size) bool, true above the diagonal; may be undefined
  KVCache* cache = nullptr;          // cached decoding: append this pass's keys/values here
  // Continuous batching (GPTImpl::forward_slots): one new token per row, appended to its slot;
  // rope_cos / rope_sin are then (B, 1, 1, head_dim/2), each row's own position.
  SlotKVCache* slots = nullptr;
};

// --- Attention kernels ------------------------------------------------------------------------------
// q: (B, n_head, T, hd); k, v: (B, n_kv_head, S, hd) with S >= T: query i sits at position S - T + i
// and attends to key positions [0, S - T + i]. Returns (B, n_head, T, hd). causal_mask is the
// (>= S, >= S) bool buffer (true = future, masked); when undefined the mask is built per call.

// The fastest kernel this LibTorch offers: scaled_dot_product_attention on LibTorch >= 2, the
// explicit path below on 1.x.
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& causal_mask, double dropout_p);
// Batched matmuls (batched_matmul.h) + masked softmax, with no copy of k/v for GQA (query heads of one group are
// stacked into the rows of one matmul). When `probs` is given it receives the attention
// probabilities (B, n_head, T, S), before dropout. The same kernel as below with one block.
torch::Tensor causal_attention_explicit(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& causal_mask, double dropout_p,
                                        torch::Tensor* probs = nullptr);
// The explicit kernel in blocks of `block` queries: a block computes scores only against the keys
// its last query may see, skipping the all-masked part right of the diagonal (with T = S in 4
// blocks, 10/16 of the T x S work). The same math; LibTorch 1.x's causal_attention uses blocks of 64.
// `probs` (as above, before the view to (B, n_head, T, S)) needs block >= T.
torch::Tensor causal_attention_blocked(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                       const torch::Tensor& causal_mask, double dropout_p, int64_t block,
                                       torch::Tensor* probs = nullptr);
// One query per row against keys of rows of different lengths: q (B, n_head, 1, hd), k, v (B,
// n_kv_head, S, hd), key_mask (B, S) bool, true for keys a row must not see (beyond its length).
// scaled_dot_product_attention with that mask on LibTorch >= 2; on 1.x the explicit kernel's grouped
// matmuls with the mask filled in before the softmax (the same products as its one-query case).
torch::Tensor masked_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& key_mask);
// The textbook formula, for tests: repeat k/v per query head, q k^T * scale, mask built from
// scratch, softmax, times v. No dropout.
torch::Tensor attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);
// Name of the kernel causal_attention uses in this build, for logs.
const char* attention_kernel_name();

// --- q, k and v as one product ------------------------------------------------------------------
// Without LoRA on q, k or v, a pass of at least as many rows as the model is wide computes q, k and
// v with one product through the three weights side by side (torch::cat: a copy of 3 C^2 floats per
// pass) instead of three, as nanoGPT's c_attn does, keeping the three parameters (checkpoints,
// export and LoRA see q_proj, k_proj, v_proj). Why: one product instead of three forward and two
// instead of six backward, and no autograd sum of x's three gradients: at the nanoGPT config's size
// the step is more calls than arithmetic. Under C rows (decoding) the weights' copy would cost more
// than it saves. GPTFORGE_FUSED_QKV=0 turns it off, to compare.
bool fused_qkv_enabled();
// For tests: turns it on or off for the whole process; returns the previous setting.
bool set_fused_qkv_enabled(bool on);

// --- The module ---------------------------------------------------------------------------------
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& cfg, int64_t layer);
  // x: (B, T, C) -> (B, T, C). With `probs`, uses the explicit kernel and stores the probabilities.
  torch::Tensor forward(const torch::Tensor& x, const AttentionInputs& in, torch::Tensor* probs = nullptr);
  // Whether forward(x) computes q, k and v with one product (above).
  bool projects_qkv_at_once(const torch::Tensor& x) const;

  // Gives the projections named in cfg.targets (q, k, v, o) a LoRA adapter (lora.h).
  void add_lora(const LoraConfig& cfg);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  LoRA q_lora{nullptr}, k_lora{nullptr}, v_lora{nullptr}, o_lora{nullptr};  // set by add_lora only

 private:
  int64_t layer_, n_head_, n_kv_head_, head_dim_;
  double dropout_;
};
TORCH_MODULE(Attention);

}  // namespace gptforge
