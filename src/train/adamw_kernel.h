// The elementwise AdamW update, as plain C++ over float arrays: the inner loop of FusedAdamW
// (optimizer.h). It lives in its own translation unit, compiled with -fno-math-errno and without the
// torch precompiled header (CMakeLists.txt): without errno semantics GCC vectorises sqrtf.
#pragma once
#include <cstdint>

namespace gptforge {

// Elements [begin, end), in libtorch's order of operations:
//   p *= decay (1 - lr*wd);  m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g;
//   p -= step_size (lr/bc1) * m / (sqrt(v) * inv_sqrt_bc2 + eps)
void adamw_span(float* p, const float* g, float* m, float* v, int64_t begin, int64_t end, float decay, float beta1,
                float beta2, float inv_sqrt_bc2, float eps, float step_size);

}  // namespace gptforge
