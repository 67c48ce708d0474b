#include "model/attention_kernel.h"

#include <algorithm>
#include <cstring>

#include "model/vector_math.h"

namespace gptforge {
namespace {

// Score rows are computed 16 keys at a time (two AVX2 registers of accumulators): transposed keys
// are padded to a multiple of 16 so the last block reads zeros, not past the buffer.
constexpr int64_t kKeyBlock = 16;
int64_t padded(int64_t t) { return (t + kKeyBlock - 1) / kKeyBlock * kKeyBlock; }

// xt (hd x Tp) = the group's rows (T x hd) transposed, zero-padded to Tp columns.
GPTFORGE_INLINE void transpose_rows(const HeadRows& x, int64_t b, int64_t g, int64_t T, int64_t hd, float* xt) {
  const int64_t tp = padded(T);
  for (int64_t e = 0; e < hd; ++e) std::memset(xt + e * tp + T, 0, sizeof(float) * static_cast<size_t>(tp - T));
  for (int64_t t = 0; t < T; ++t) {
    const float* r = x.row(b, g, t);
    for (int64_t e = 0; e < hd; ++e) xt[e * tp + t] = r[e];
  }
}

// out[j] = scale * a . xt[:, j] for j < n: a query (or an output gradient) against the first n
// keys (or values), vectorised over j with the accumulators in registers.
GPTFORGE_INLINE void dot_rows(const float* a, const float* xt, int64_t tp, int64_t n, int64_t hd, float scale,
                              float* out) {
  for (int64_t j0 = 0; j0 < n; j0 += kKeyBlock) {
    float acc[kKeyBlock] = {};
    for (int64_t e = 0; e < hd; ++e) {
      const float ae = a[e] * scale;
      const float* x = xt + e * tp + j0;
      for (int64_t jj = 0; jj < kKeyBlock; ++jj) acc[jj] += ae * x[jj];
    }
    const int64_t w = std::min(kKeyBlock, n - j0);
    for (int64_t jj = 0; jj < w; ++jj) out[j0 + jj] = acc[jj];
  }
}

// out = sum_{j < n} w[j] * rows(j): the weighted sum of the first n rows of the group, in registers
// when the head dimension is a compile-time constant (HD > 0).
template <int HD>
GPTFORGE_INLINE void weighted_rows(const float* w, const HeadRows& x, int64_t b, int64_t g, int64_t n, int64_t hd_rt,
                                   float* out) {
  const int64_t hd = HD > 0 ? HD : hd_rt;
  float acc_fixed[HD > 0 ? HD : 1];
  float* acc = HD > 0 ? acc_fixed : out;
  for (int64_t e = 0; e < hd; ++e) acc[e] = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    const float wj = w[j];
    const float* r = x.row(b, g, j);
    for (int64_t e = 0; e < hd; ++e) acc[e] += wj * r[e];
  }
  if (HD > 0) {
    for (int64_t e = 0; e < hd; ++e) out[e] = acc[e];
  }
}

// p[0..n) = softmax(p[0..n)).
GPTFORGE_INLINE void softmax_row(float* p, int64_t n) {
  float m = p[0];
  for (int64_t j = 1; j < n; ++j) m = std::max(m, p[j]);
  for (int64_t j = 0; j < n; ++j) p[j] -= m;
  exp_in_place(p, n);
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum += p[j];
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n; ++j) p[j] *= inv;
}

template <int HD>
GPTFORGE_INLINE void forward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v, const HeadRows& out,
                                   const HeadRows& probs, int64_t b, int64_t g, const AttentionDims& d,
                                   float* scratch) {
  const int64_t T = d.T, hd = HD > 0 ? HD : d.hd, tp = padded(T);
  float* kt = scratch;
  transpose_rows(k, b, g, T, hd, kt);
  for (int64_t hh = 0; hh < d.group; ++hh) {
    const int64_t h = g * d.group + hh;
    for (int64_t i = 0; i < T; ++i) {
      float* p = probs.row(b, h, i);
      dot_rows(q.row(b, h, i), kt, tp, i + 1, hd, d.scale, p);
      softmax_row(p, i + 1);
      weighted_rows<HD>(p, v, b, g, i + 1, hd, out.row(b, h, i));
    }
  }
}

template <int HD>
GPTFORGE_INLINE void backward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v, const HeadRows& probs,
                                    const HeadRows& grad_out, const HeadRows& dq, const HeadRows& dk,
                                    const HeadRows& dv, int64_t b, int64_t g, const AttentionDims& d,
                                    float* scratch) {
  const int64_t T = d.T, hd = HD > 0 ? HD : d.hd, tp = padded(T);
  float* vt = scratch;           // hd x tp
  float* dk_acc = vt + hd * tp;  // T x hd
  float* dv_acc = dk_acc + T * hd;
  float* ds = dv_acc + T * hd;  // tp
  transpose_rows(v, b, g, T, hd, vt);
  std::memset(dk_acc, 0, sizeof(float) * static_cast<size_t>(2 * T * hd));
  for (int64_t hh = 0; hh < d.group; ++hh) {
    const int64_t h = g * d.group + hh;
    for (int64_t i = 0; i < T; ++i) {
      const int64_t n = i + 1;
      const float* p = probs.row(b, h, i);
      const float* go = grad_out.row(b, h, i);
      const float* qi = q.row(b, h, i);
      dot_rows(go, vt, tp, n, hd, 1.0f, ds);  // dp_ij
      float dsum = 0.0f;
      for (int64_t j = 0; j < n; ++j) dsum += p[j] * ds[j];
      for (int64_t j = 0; j < n; ++j) ds[j] = p[j] * (ds[j] - dsum) * d.scale;  // ds_ij, scale folded in
      weighted_rows<HD>(ds, k, b, g, n, hd, dq.row(b, h, i));
      for (int64_t j = 0; j < n; ++j) {
        const float cj = ds[j], pj = p[j];
        float* dkj = dk_acc + j * hd;
        float* dvj = dv_acc + j * hd;
        for (int64_t e = 0; e < hd; ++e) {
          dkj[e] += cj * qi[e];
          dvj[e] += pj * go[e];
        }
      }
    }
  }
  for (int64_t j = 0; j < T; ++j) {
    std::memcpy(dk.row(b, g, j), dk_acc + j * hd, sizeof(float) * static_cast<size_t>(hd));
    std::memcpy(dv.row(b, g, j), dv_acc + j * hd, sizeof(float) * static_cast<size_t>(hd));
  }
}

}  // namespace

int64_t attention_forward_scratch(const AttentionDims& d) { return d.hd * padded(d.T); }
int64_t attention_backward_scratch(const AttentionDims& d) { return d.hd * padded(d.T) + 2 * d.T * d.hd + padded(d.T); }

// The head dimensions of the common configs get their own instance (accumulators in registers).
GPTFORGE_CLONES void attention_forward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v,
                                             const HeadRows& out, const HeadRows& probs, int64_t b, int64_t g,
                                             const AttentionDims& d, float* scratch) {
  switch (d.hd) {
    case 32: return forward_group<32>(q, k, v, out, probs, b, g, d, scratch);
    case 64: return forward_group<64>(q, k, v, out, probs, b, g, d, scratch);
    default: return forward_group<0>(q, k, v, out, probs, b, g, d, scratch);
  }
}

GPTFORGE_CLONES void attention_backward_group(const HeadRows& q, const HeadRows& k, const HeadRows& v,
                                              const HeadRows& probs, const HeadRows& grad_out, const HeadRows& dq,
                                              const HeadRows& dk, const HeadRows& dv, int64_t b, int64_t g,
                                              const AttentionDims& d, float* scratch) {
  switch (d.hd) {
    case 32: return backward_group<32>(q, k, v, probs, grad_out, dq, dk, dv, b, g, d, scratch);
    case 64: return backward_group<64>(q, k, v, probs, grad_out, dq, dk, dv, b, g, d, scratch);
    default: return backward_group<0>(q, k, v, probs, grad_out, dq, dk, dv, b, g, d, scratch);
  }
}

}  // namespace gptforge
