#include "util/cpu_gemm.h"

#include <torch/torch.h>

#include <atomic>
#include <string>

#include "util/env_switch.h"
#include "util/errors.h"

#ifdef GPTFORGE_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

namespace gptforge {

namespace {
#ifdef GPTFORGE_WITH_ONEDNN
std::atomic<bool>& onednn_switch() {
  static std::atomic<bool> on{env_switch("GPTFORGE_ONEDNN").value_or(true)};
  return on;
}
#endif
}  // namespace

bool onednn_gemm_enabled() {
#ifdef GPTFORGE_WITH_ONEDNN
  return onednn_switch().load(std::memory_order_relaxed);
#else
  return false;
#endif
}

bool set_onednn_gemm_enabled(bool on) {
#ifdef GPTFORGE_WITH_ONEDNN
  return onednn_switch().exchange(on);
#else
  (void)on;
  return false;
#endif
}

const char* cpu_gemm_backend() {
#ifdef GPTFORGE_WITH_ONEDNN
  static const std::string on = [] {
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
           " sgemm";
  }();
  static const std::string off = "LibTorch mm (" + on + " turned off: GPTFORGE_ONEDNN=0)";
  return onednn_gemm_enabled() ? on.c_str() : off.c_str();
#else
  return "LibTorch mm (built without oneDNN)";
#endif
}

void cpu_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
#ifdef GPTFORGE_WITH_ONEDNN
  if (onednn_gemm_enabled()) {
    const dnnl_status_t st =
        dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (st != dnnl_success) throw RunError("oneDNN sgemm failed with status " + std::to_string(static_cast<int>(st)));
    return;
  }
#endif
  // The same product on LibTorch's tensors, viewing the caller's arrays in place.
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  auto view = [&](const float* p, bool trans, int64_t rows, int64_t cols, int64_t ld) {
    // op(X) is rows x cols; X is stored transposed (cols x rows) when trans.
    auto x = trans ? torch::from_blob(const_cast<float*>(p), {cols, rows}, {ld, 1}, opts).t()
                   : torch::from_blob(const_cast<float*>(p), {rows, cols}, {ld, 1}, opts);
    return x;
  };
  torch::NoGradGuard no_grad;
  auto out = torch::from_blob(c, {m, n}, {ldc, 1}, opts);
  auto prod = k == 0 ? torch::zeros({m, n}, opts) : torch::mm(view(a, trans_a, m, k, lda), view(b, trans_b, k, n, ldb));
  if (beta == 0.0f) {
    out.copy_(prod.mul_(alpha));
  } else {
    out.mul_(beta).add_(prod, alpha);
  }
}

}  // namespace gptforge
