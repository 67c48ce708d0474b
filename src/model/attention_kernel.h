// Causal self-attention written out by hand for the CPU (fp32), forward and backward, for one
// (batch row, kv head) group at a time: plain C++, no torch, so that the compiler vectorises it
// (AVX2/FMA clones beside a portable one). fused_ops.h wraps it as an autograd function.
//
// For query head h of the group, query i, keys j <= i (nothing right of the diagonal is computed):
//   s_ij = scale q_i . k_j          p_ij = softmax_j(s_ij)          o_i = sum_j p_ij v_j
// backward, with dp_ij = do_i . v_j and D_i = sum_j p_ij dp_ij = do_i . o_i:
//   ds_ij = p_ij (dp_ij - D_i)      dq_i = scale sum_j ds_ij k_j
//   dk_j = scale sum_i ds_ij q_i    dv_j = sum_i p_ij do_i
// The probabilities p are kept between the two ((B, H, T, T), row i filled up to column i), as the
// LibTorch composition keeps its softmax output: the same memory, none of its other intermediates.
#pragma once
#include <cstdint>

namespace gptforge {

// Element (b, h, t, 0) of a (B, heads, T, hd) tensor whose last dimension is contiguous; any other
// strides (a (B, T, heads, hd) buffer read as (B, heads, T, hd) is the usual case).
struct HeadRows {
  float* data = nullptr;
  int64_t stride_b = 0, stride_h = 0, stride_t = 0;
  float* row(int64_t b, int64_t h, int64_t t) const { return data + b * stride_b + h * stride_h + t * stride_t; }
};

struct AttentionDims {
  int64_t T = 0;       // positions (queries = keys)
  int64_t hd = 0;      // head dimension
  int64_t group = 1;   // query heads per kv head: query head g * group + i reads kv head g
  float scale = 1.0f;  // 1 / sqrt(hd)
};

// Scratch floats one call below needs (one buffer per thread).
int64_t attention_forward_scratch(const AttentionDims& d);
int64_t attention_backward_scratch(const AttentionDims& d);

// Group (b, g): writes out and probs for the group's query heads.
void attention_forward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v, const HeadRows& out,
                             const HeadRows& probs, int64_t b, int64_t g, const AttentionDims& d, float* scratch);
// Group (b, g): writes dq for the group's query heads and dk, dv for kv head g.
void attention_backward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v, const HeadRows& probs,
                              const HeadRows& grad_out, const HeadRows& dq, const HeadRows& dk, const HeadRows& dv,
                              int64_t b, int64_t g, const AttentionDims& d, float* scratch);

}  // namespace gptforge
