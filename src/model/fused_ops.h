// Hand-written CPU kernels as autograd functions, for the small models where LibTorch's composition
// of many small operations costs more than their arithmetic (issue 19): causal attention in one
// pass over each (batch row, kv head), its products on blocks of queries, and tanh-GELU in one pass,
// forward and backward.
//
// Each takes fp32 CPU tensors only; everything else (CUDA, bf16, dropout on the attention
// probabilities, cached decoding) keeps the LibTorch composition, which the tests compare them with.
//
// Defaults: both on where the products run on oneDNN (GELU everywhere). The attention kernel keeps
// only a log-sum-exp per query between forward and backward and recomputes the probabilities, so it
// holds no more memory than SDPA's flash kernel. bench_attention (2 threads, 2026-12-07, LibTorch
// 2.14): forward and backward together 1.6-2.1x SDPA's speed on the benchmark models' shapes
// (medium 9.9 against 18.4 ms). bench_train, alternating with the commit before: medium +7-15%,
// the nanoGPT config +12-16% (with the GELU kernel and AdamW now on both threads too).
// GPTFORGE_FUSED_ATTN=0|1 and GPTFORGE_FUSED_GELU=0|1 override them, to compare.
#pragma once
#include <torch/torch.h>

namespace gptforge {

// Longest context the fused attention takes (measured up to there): each thread holds a head's (T, T)
// probabilities and score gradients in the backward; longer contexts keep LibTorch's attention
// (attention.h).
constexpr int64_t kFusedAttentionMaxContext = 256;

// Whether the model calls the kernels (the defaults above; the variables are read once).
bool fused_attention_enabled();
bool fused_gelu_enabled();

// Whether fused_causal_attention takes these operands: fp32 CPU, q (B, H, T, hd) and k, v (B, Hkv,
// T, hd) (same T: no cached prefix), T <= kFusedAttentionMaxContext.
bool fused_attention_supports(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);
// softmax(q k^T / sqrt(hd) + causal mask) v, (B, H, T, hd); query head h reads kv head h / (H / Hkv).
// The result is a (B, H, T, hd) view of a contiguous (B, T, H, hd) buffer, so the projection after
// it needs no copy.
torch::Tensor fused_causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

// Whether fused_gelu_tanh takes x: fp32 CPU.
bool fused_gelu_supports(const torch::Tensor& x);
// torch::gelu(x, "tanh") in one pass forward and one backward.
torch::Tensor fused_gelu_tanh(const torch::Tensor& x);

}  // namespace gptforge
