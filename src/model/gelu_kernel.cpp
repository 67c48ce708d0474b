#include "model/gelu_kernel.h"

#include <algorithm>

#include "model/vector_math.h"

namespace gptforge {
namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;
// Elements per pass: the exp runs over a buffer this long, which stays in L1.
constexpr int64_t kChunk = 256;

// With e = exp(2u): (1 + tanh u) / 2 = e / (e + 1) = p and (1 - tanh u) / 2 = 1 / (e + 1) = 1 - p,
// computed apart so that neither cancels (1 - tanh^2 u = 4 p (1 - p) stays exact in the tails).
// p[i], r[i] = p and 1 - p at x[i], for i < n (n <= kChunk).
GPTFORGE_INLINE void sigmoid_2u(const float* x, float* p, float* r, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float u2 = 2.0f * kSqrt2OverPi * (x[i] + kCubic * x[i] * x[i] * x[i]);
    p[i] = u2 < -80.0f ? -80.0f : (u2 > 80.0f ? 80.0f : u2);  // e stays a normal float
  }
  exp_in_place(p, n);
  for (int64_t i = 0; i < n; ++i) {
    r[i] = 1.0f / (p[i] + 1.0f);
    p[i] *= r[i];
  }
}

}  // namespace

GPTFORGE_CLONES void gelu_tanh_forward(const float* x, float* y, int64_t count) {
  float p[kChunk], r[kChunk];
  for (int64_t start = 0; start < count; start += kChunk) {
    const int64_t n = std::min(kChunk, count - start);
    const float* xs = x + start;
    sigmoid_2u(xs, p, r, n);
    float* ys = y + start;
    for (int64_t i = 0; i < n; ++i) ys[i] = xs[i] * p[i];
  }
}

GPTFORGE_CLONES void gelu_tanh_backward(const float* x, const float* grad, float* dx, int64_t count) {
  float p[kChunk], r[kChunk];
  for (int64_t start = 0; start < count; start += kChunk) {
    const int64_t n = std::min(kChunk, count - start);
    const float* xs = x + start;
    sigmoid_2u(xs, p, r, n);
    const float* gs = grad + start;
    float* ds = dx + start;
    for (int64_t i = 0; i < n; ++i) {
      const float xi = xs[i];
      const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * xi * xi);
      ds[i] = gs[i] * (p[i] + 2.0f * xi * du * p[i] * r[i]);
    }
  }
}

}  // namespace gptforge
