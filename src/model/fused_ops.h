// Hand-written CPU kernels as autograd functions, for the small models where LibTorch's composition
// of many small operations costs more than their arithmetic (issue 19): causal attention in one
// pass over each (batch row, kv head) and tanh-GELU in one pass, forward and backward.
//
// Each takes fp32 CPU tensors only; everything else (CUDA, bf16, dropout on the attention
// probabilities, cached decoding) keeps the LibTorch composition, which the tests compare them with.
//
// Off by default: measured on 2026-12-05 (bench_train, 2 threads, alternating runs; README,
// Performance) they do not yet beat the composition: the attention kernel works one query row at a
// time (about 8 GFLOP/s on one thread) where BLAS blocks. GPTFORGE_FUSED_ATTN=1 and
// GPTFORGE_FUSED_GELU=1 turn them on in the model, to profile them where they run (issue 19).
#pragma once
#include <torch/torch.h>

namespace gptforge {

// Longest context the fused attention takes: it keeps the (T, T) probabilities per head, as the
// one-block composition does; longer contexts keep the composition's query blocks (attention.h).
constexpr int64_t kFusedAttentionMaxContext = 256;

// Whether the model calls the kernels (GPTFORGE_FUSED_ATTN=1, GPTFORGE_FUSED_GELU=1; read once).
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
