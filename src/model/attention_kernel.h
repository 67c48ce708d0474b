// Causal self-attention written out by hand for the CPU (fp32), forward and backward, for one
// (batch row, kv head) group at a time; fused_ops.h wraps it as an autograd function and runs the
// groups in parallel, one thread each.
//
// For query head h of the group, query i, keys j <= i:
//   s_ij = scale q_i . k_j          p_ij = softmax_j(s_ij)          o_i = sum_j p_ij v_j
// backward, with dp_ij = do_i . v_j and D_i = sum_j p_ij dp_ij = do_i . o_i:
//   ds_ij = p_ij (dp_ij - D_i)      dq_i = scale sum_j ds_ij k_j
//   dk_j = scale sum_i ds_ij q_i    dv_j = sum_i p_ij do_i
// The products are matrix products on blocks of kAttentionBlock queries (cpu_sgemm on the calling
// thread: oneDNN's sgemm runs single-threaded inside a parallel region): query block r reads keys
// 0 .. its last query, so the blocks right of the diagonal are never computed. The softmax and ds are
// plain loops the compiler vectorises (AVX2/FMA clones beside a portable one).
// Between the two only each query's log-sum-exp of its scores is kept ((B, H, T)); the backward
// recomputes a head's probabilities from it, as flash attention does, instead of keeping the
// (B, H, T, T) probabilities (128 MB for the medium benchmark model's 8 layers).
#pragma once
#include <cstdint>

namespace gptforge {

// Queries per block of the products: T = 256 takes 4, and computes 10 of the 16 (64 x 64) blocks.
constexpr int64_t kAttentionBlock = 64;

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
  int64_t heads = 0;   // query heads H (the log-sum-exp is (B, H, T))
  float scale = 1.0f;  // 1 / sqrt(hd)
};

// Scratch floats one call below needs (one buffer per thread).
int64_t attention_forward_scratch(const AttentionDims& d);
int64_t attention_backward_scratch(const AttentionDims& d);

// Group (b, g): writes out and the log-sum-exp lse (B, H, T, contiguous) for the group's query heads.
void attention_forward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v, const HeadRows& out, float* lse,
                             int64_t b, int64_t g, const AttentionDims& d, float* scratch);
// Group (b, g): writes dq for the group's query heads and dk, dv for kv head g.
void attention_backward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v, const float* lse,
                              const HeadRows& grad_out, const HeadRows& dq, const HeadRows& dk, const HeadRows& dv,
                              int64_t b, int64_t g, const AttentionDims& d, float* scratch);

}  // namespace gptforge
