#include "model/attention_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/vector_math.h"
#include "util/cpu_gemm.h"

namespace gptforge {
namespace {

// p[0..n) = softmax(p[0..n)); returns log(sum_j exp(p_j)) of the entry values, from which the
// backward recomputes the row.
GPTFORGE_INLINE float softmax_row(float* p, int64_t n) {
  float m = p[0];
  for (int64_t j = 1; j < n; ++j) m = std::max(m, p[j]);
  for (int64_t j = 0; j < n; ++j) p[j] -= m;
  exp_in_place(p, n);
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum += p[j];
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n; ++j) p[j] *= inv;
  return m + std::log(sum);
}

// Row i of a block holds s_ij for j < n on entry and p_ij = exp(s_ij - lse_i) on return (zero for
// j > i): the forward's probabilities again, from its log-sum-exp.
GPTFORGE_INLINE void probabilities_row(float* p, float lse, int64_t i, int64_t n) {
  for (int64_t j = 0; j <= i; ++j) p[j] -= lse;
  exp_in_place(p, i + 1);
  for (int64_t j = i + 1; j < n; ++j) p[j] = 0.0f;
}

// Row i of the block holds dp_ij for j < n on entry and scale * ds_ij on return (zero for j > i).
GPTFORGE_INLINE void score_gradient_row(const float* p, float* ds, int64_t i, int64_t n, float scale) {
  float dsum = 0.0f;
  for (int64_t j = 0; j <= i; ++j) dsum += p[j] * ds[j];
  for (int64_t j = 0; j <= i; ++j) ds[j] = p[j] * (ds[j] - dsum) * scale;
  for (int64_t j = i + 1; j < n; ++j) ds[j] = 0.0f;
}

}  // namespace

// One block of queries' scores against every key.
int64_t attention_forward_scratch(const AttentionDims& d) { return kAttentionBlock * d.T; }
// A query head's probabilities and score gradients, (T x T) each, lower triangle filled.
int64_t attention_backward_scratch(const AttentionDims& d) { return 2 * d.T * d.T; }

GPTFORGE_CLONES void attention_forward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v,
                                             const HeadRows& out, float* lse, int64_t b, int64_t g,
                                             const AttentionDims& d, float* scratch) {
  const int64_t T = d.T, hd = d.hd;
  float* p = scratch;  // kAttentionBlock x T, row stride T
  for (int64_t hh = 0; hh < d.group; ++hh) {
    const int64_t h = g * d.group + hh;
    float* lse_h = lse + (b * d.heads + h) * T;
    for (int64_t r0 = 0; r0 < T; r0 += kAttentionBlock) {
      const int64_t r1 = std::min(T, r0 + kAttentionBlock), rows = r1 - r0;
      // s = scale q k^T for this block's queries against keys 0 .. r1 - 1.
      cpu_sgemm(false, true, rows, r1, hd, d.scale, q.row(b, h, r0), q.stride_t, k.row(b, g, 0), k.stride_t, 0.0f, p, T);
      for (int64_t i = r0; i < r1; ++i) {
        float* pi = p + (i - r0) * T;
        lse_h[i] = softmax_row(pi, i + 1);
        for (int64_t j = i + 1; j < r1; ++j) pi[j] = 0.0f;
      }
      // o = p v over the same keys (the zeros right of the diagonal drop the later ones).
      cpu_sgemm(false, false, rows, hd, r1, 1.0f, p, T, v.row(b, g, 0), v.stride_t, 0.0f, out.row(b, h, r0), out.stride_t);
    }
  }
}

GPTFORGE_CLONES void attention_backward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v,
                                              const float* lse, const HeadRows& grad_out, const HeadRows& dq,
                                              const HeadRows& dk, const HeadRows& dv, int64_t b, int64_t g,
                                              const AttentionDims& d, float* scratch) {
  const int64_t T = d.T, hd = d.hd, ldp = T;
  float* p = scratch;       // T x T, row stride T
  float* ds = p + T * T;    // T x T, row stride T
  for (int64_t hh = 0; hh < d.group; ++hh) {
    const int64_t h = g * d.group + hh;
    const float* lse_h = lse + (b * d.heads + h) * T;
    for (int64_t r0 = 0; r0 < T; r0 += kAttentionBlock) {
      const int64_t r1 = std::min(T, r0 + kAttentionBlock), rows = r1 - r0;
      // p again, as the forward had it: s = scale q k^T, then exp(s - lse).
      float* pb = p + r0 * T;
      cpu_sgemm(false, true, rows, r1, hd, d.scale, q.row(b, h, r0), q.stride_t, k.row(b, g, 0), k.stride_t, 0.0f, pb, T);
      for (int64_t i = r0; i < r1; ++i) probabilities_row(pb + (i - r0) * T, lse_h[i], i, r1);
      float* dsb = ds + r0 * T;
      // dp = do v^T, then ds in place, for this block's queries against keys 0 .. r1 - 1.
      cpu_sgemm(false, true, rows, r1, hd, 1.0f, grad_out.row(b, h, r0), grad_out.stride_t, v.row(b, g, 0), v.stride_t,
                0.0f, dsb, T);
      for (int64_t i = r0; i < r1; ++i) score_gradient_row(p + i * ldp, dsb + (i - r0) * T, i, r1, d.scale);
      // dq = ds k (scale folded into ds).
      cpu_sgemm(false, false, rows, hd, r1, 1.0f, dsb, T, k.row(b, g, 0), k.stride_t, 0.0f, dq.row(b, h, r0),
                dq.stride_t);
    }
    // Key block c takes the queries from c on (ds and p are zero above the diagonal): dk = ds^T q,
    // dv = p^T do, summed over the group's query heads.
    const float beta = hh == 0 ? 0.0f : 1.0f;
    for (int64_t c0 = 0; c0 < T; c0 += kAttentionBlock) {
      const int64_t c1 = std::min(T, c0 + kAttentionBlock), cols = c1 - c0, later = T - c0;
      cpu_sgemm(true, false, cols, hd, later, 1.0f, ds + c0 * T + c0, T, q.row(b, h, c0), q.stride_t, beta,
                dk.row(b, g, c0), dk.stride_t);
      cpu_sgemm(true, false, cols, hd, later, 1.0f, p + c0 * ldp + c0, ldp, grad_out.row(b, h, c0), grad_out.stride_t,
                beta, dv.row(b, g, c0), dv.stride_t);
    }
  }
}

}  // namespace gptforge
