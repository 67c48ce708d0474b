// Rotary position embedding (RoPE) in Hugging Face Llama's "rotate_half" convention: the first and
// second halves of each head form the pairs (x[i], x[i + d/2]) that rotate together by angle
// pos * theta^(-2i/d), i in [0, d/2). (llama.cpp's GGUF layout pairs neighbours instead; the GGUF
// exporter permutes q/k rows.) Applied to queries and keys, so q.k depends only on their distance.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace gptforge {

struct RopeTables {
  torch::Tensor cos;  // (positions, head_dim / 2), fp32
  torch::Tensor sin;  // (positions, head_dim / 2), fp32
};

// cos/sin of pos * theta^(-2i/head_dim) for pos in [0, positions), computed in fp64, stored fp32.
RopeTables rope_tables(int64_t positions, int64_t head_dim, double theta);

// Rotates x (..., T, head_dim) by the angles of its T positions; cos, sin: (T, head_dim / 2), cast
// to x's dtype. Equals HF's x * cat(cos, cos) + rotate_half(x) * cat(sin, sin), with
// rotate_half(x) = cat(-x2, x1). The result is contiguous.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace gptforge
