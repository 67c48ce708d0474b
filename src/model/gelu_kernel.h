// GELU with the tanh approximation (GPT-2's), forward and backward over fp32 arrays, written so that
// the compiler vectorises it: plain C++, no torch; fused_ops.h makes it an autograd function.
//
//   u = sqrt(2/pi) (x + 0.044715 x^3)      t = tanh(u)      y = x (1 + t) / 2
//   dy/dx = (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2
//
// Written with p = (1 + t) / 2 = sigmoid(2u) (vector_math.h's exp): y = x p, dy/dx = p + 2 x u' p (1 - p),
// so the tails do not cancel. Within 1e-6 of LibTorch's gelu.
#pragma once
#include <cstdint>

namespace gptforge {

void gelu_tanh_forward(const float* x, float* y, int64_t count);
// dx = grad * dy/dx(x); dx may be grad.
void gelu_tanh_backward(const float* x, const float* grad, float* dx, int64_t count);

}  // namespace gptforge
