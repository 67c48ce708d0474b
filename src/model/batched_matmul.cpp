#include "model/batched_matmul.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <climits>
#include <string>

#include "util/cpu_gemm.h"

#ifdef GPTFORGE_WITH_BLAS
// The Fortran BLAS entry point of the library LibTorch itself calls (libblas.so.3: OpenBLAS).
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);
#endif

namespace gptforge {
namespace {

#ifdef GPTFORGE_WITH_BLAS
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// How BLAS reads one (rows, cols) matrix of a batch: row-major with leading dimension `ld` (stride
// of a row), or transposed (stride 1 down a column) with `ld` the stride of a column.
struct Layout {
  bool transposed = false;
  int64_t ld = 0;
};

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

// The layout of x (batch, rows, cols), or false when neither fits BLAS (then x is made contiguous).
bool layout_of(const torch::Tensor& x, Layout* out) {
  const int64_t rows = x.size(1), cols = x.size(2);
  if (x.stride(2) == 1 && x.stride(1) >= std::max<int64_t>(1, cols) && fits_int(x.stride(1))) {
    *out = {false, x.stride(1)};
    return true;
  }
  if (x.stride(1) == 1 && x.stride(2) >= std::max<int64_t>(1, rows) && fits_int(x.stride(2))) {
    *out = {true, x.stride(2)};
    return true;
  }
  return false;
}

// c = a @ b over the batch, c contiguous (batch, m, n). BLAS is column-major, so it computes
// c^T = b^T a^T: a row-major operand is, to BLAS, its own transpose with no transposition flag.
torch::Tensor blas_bmm(torch::Tensor a, torch::Tensor b) {
  RECORD_FUNCTION("gptforge::batched_matmul", std::vector<c10::IValue>());  // named in op profiles
  Layout la, lb;
  if (!layout_of(a, &la)) {
    a = a.contiguous();
    layout_of(a, &la);
  }
  if (!layout_of(b, &lb)) {
    b = b.contiguous();
    layout_of(b, &lb);
  }
  const int64_t batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
  torch::Tensor c = torch::empty({batch, m, n}, a.options());
  if (c.numel() == 0) return c;
  if (k == 0) return c.zero_();
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* pc = c.data_ptr<float>();
  const int64_t sa = a.stride(0), sb = b.stride(0);
  const char ta = la.transposed ? 'T' : 'N', tb = lb.transposed ? 'T' : 'N';
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int lda = static_cast<int>(la.ld), ldb = static_cast<int>(lb.ld), ldc = in;
  // One entry per task at least: the products are small, and inside the parallel region OpenBLAS
  // (its OpenMP build) runs each on the calling thread.
  // (oneDNN's sgemm, when on, runs each on the calling thread too: util/cpu_gemm.h.)
  const bool onednn = onednn_gemm_enabled();
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    const float one = 1.0f, zero = 0.0f;
    for (int64_t i = begin; i < end; ++i) {
      if (onednn) {
        cpu_sgemm(la.transposed, lb.transposed, m, n, k, 1.0f, pa + i * sa, la.ld, pb + i * sb, lb.ld, 0.0f,
                  pc + i * m * n, n);
      } else {
        sgemm_(&tb, &ta, &in, &im, &ik, &one, pb + i * sb, &ldb, pa + i * sa, &lda, &zero, pc + i * m * n, &ldc);
      }
    }
  });
  return c;
}

struct BatchedMatmul : public torch::autograd::Function<BatchedMatmul> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b) {
    ctx->save_for_backward({a, b});
    return blas_bmm(a, b);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& g = grad_outputs[0];
    torch::Tensor ga, gb;
    if (ctx->needs_input_grad(0)) ga = blas_bmm(g, saved[1].transpose(1, 2));
    if (ctx->needs_input_grad(1)) gb = blas_bmm(saved[0].transpose(1, 2), g);
    return {ga, gb};
  }
};
#endif

}  // namespace

bool batched_matmul_uses_blas(const torch::Tensor& a, const torch::Tensor& b) {
#ifdef GPTFORGE_WITH_BLAS
  auto ok = [](const torch::Tensor& x) {
    return x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.dim() == 3 && x.layout() == torch::kStrided &&
           fits_int(x.size(1)) && fits_int(x.size(2));
  };
  return ok(a) && ok(b) && a.size(0) == b.size(0) && a.size(2) == b.size(1) &&
         fits_int(a.size(1) * b.size(2));
#else
  (void)a;
  (void)b;
  return false;
#endif
}

const char* batched_matmul_backend() {
#ifdef GPTFORGE_WITH_BLAS
  static const std::string name = std::string(onednn_gemm_enabled() ? cpu_gemm_backend() : "BLAS sgemm") +
                                  ", spread over the intra-op threads";
  return name.c_str();
#else
  return "torch::bmm";
#endif
}

torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b) {
#ifdef GPTFORGE_WITH_BLAS
  if (batched_matmul_uses_blas(a, b)) return BatchedMatmul::apply(a, b);
#endif
  return torch::bmm(a, b);
}

}  // namespace gptforge
