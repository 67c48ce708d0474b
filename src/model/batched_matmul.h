// Batched matrix product (batch, m, k) @ (batch, k, n) -> (batch, m, n), as torch::bmm, for the
// attention kernels.
//
// Why not torch::bmm: on CPU, LibTorch 1.13 without MKL runs bmm as one BLAS call per batch entry,
// one after the other (three `select`s each), and OpenBLAS runs a product that small (m*n*k below
// 262,144: every attention product of the tiny model) on one thread. Here the batch entries are
// spread over the intra-op threads, each a single-threaded BLAS call on the operands' own strides
// (a transposed operand is passed as transposed, not copied). build/bench_bmm compares the two on
// the benchmark models' shapes: 1.23-1.34x on the tiny model's, 1.04-1.08x on the medium's.
//
// It is an autograd function: the backward is two more of the same products (dA = dC B^T,
// dB = A^T dC). fp32 CPU tensors on a build that links the BLAS LibTorch uses
// (GPTFORGE_WITH_BLAS: Debian's LibTorch 1.x); anything else goes to torch::bmm.
#pragma once
#include <torch/torch.h>

namespace gptforge {

torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b);

// Whether batched_matmul(a, b) takes the BLAS path for these operands (for tests and logs).
bool batched_matmul_uses_blas(const torch::Tensor& a, const torch::Tensor& b);
// What fp32 CPU products run on in this build, for `gptforge info`.
const char* batched_matmul_backend();

}  // namespace gptforge
