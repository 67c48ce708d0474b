// Dense fp32 matrix products on the CPU: C = alpha op(A) op(B) + beta C, row-major, as BLAS's sgemm.
//
// Why not LibTorch's mm: on CPUs with AVX-512 that OpenBLAS does not know, OpenBLAS runs its AVX2
// kernels. Debian bookworm's OpenBLAS 0.3.21 takes AMD Zen 4 (this project's CI machine) for a
// Haswell: 186 GFLOP/s on a 1024^3 product where oneDNN's sgemm, which generates its kernels for
// the CPU it runs on, reaches 362, and 2-3x on the small products of the models (768 x 128 x 128).
// LibTorch itself links oneDNN (libdnnl) but calls it for fp32 products only through its own
// tensors' format; its C entry point, dnnl_sgemm, takes plain row-major arrays.
//
// A build links oneDNN when CMake finds it (libdnnl-dev; GPTFORGE_WITH_ONEDNN). Then cpu_sgemm calls
// it unless GPTFORGE_ONEDNN=0 is set (to measure one against the other), and falls back to
// LibTorch's mm otherwise. Threads: oneDNN uses the OpenMP threads LibTorch was given
// (at::set_num_threads); called inside a parallel region it runs on the calling thread alone.
#pragma once
#include <cstdint>

namespace gptforge {

// Whether cpu_sgemm runs on oneDNN in this process (built with it and not turned off).
bool onednn_gemm_enabled();
// Turns oneDNN on or off for the whole process from now on (for tests and benchmarks that compare
// both paths in one process; a no-op without oneDNN); returns the previous setting.
bool set_onednn_gemm_enabled(bool on);
// What cpu_sgemm runs on, for `gptforge info`: "oneDNN 2.6.3 sgemm" or "LibTorch mm (...)".
const char* cpu_gemm_backend();

// C (m x n, row stride ldc) = alpha * op(A) op(B) + beta * C. op(A) is m x k: A stored m x k with row
// stride lda, or, when trans_a, stored k x m with row stride lda. Likewise op(B), k x n.
void cpu_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace gptforge
