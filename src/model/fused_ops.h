// Hand-written CPU kernels as autograd functions, for the small models where LibTorch's composition
// of many small operations costs more than their arithmetic (issue 19): causal attention in one
// pass over each (batch row, kv head), its products on blocks of queries, and tanh-GELU in one pass,
// forward and backward.
//
// Each takes fp32 CPU tensors only; everything else (CUDA, bf16, dropout on the attention
// probabilities, cached decoding) keeps the LibTorch composition, which the tests compare them with.
//
// Defaults, from bench_train (2 threads, alternating runs, 2026-12-06; README, Performance): the
// GELU kernel is on; the attention kernel is on with LibTorch 1.x and oneDNN (against the blocked
// composition: the nanoGPT config +30%, medium +8-14%), off with LibTorch 2.x, whose SDPA flash
// kernel is as fast or faster (medium 2.14: 1,453-1,468 tokens/s against 1,481-1,497).
// GPTFORGE_FUSED_ATTN=0|1 and GPTFORGE_FUSED_GELU=0|1 override them, to compare.
#pragma once
#include <torch/torch.h>

namespace gptforge {

// Longest context the fused attention takes: it keeps the (T, T) probabilities per head, as the
// one-block composition does; longer contexts keep the composition's query blocks (attention.h).
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
