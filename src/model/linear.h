// The model's linear layers: dense(x, W, b) = x W^T + b, as torch::linear, with x (..., in), W (out, in), b (out)
// or undefined.
//
// For fp32 CPU tensors, when oneDNN's sgemm is on (util/cpu_gemm.h: 2-3x OpenBLAS 0.3.21 on the
// models' products on an AVX-512 CPU), it is an autograd function whose forward and backward are
// three such products: y = x W^T, dx = dy W, dW = dy^T x, db = the column sums of dy. Anything else
// (other devices and dtypes, CPU autocast, a build without oneDNN, GPTFORGE_ONEDNN=0) is
// torch::linear. The results equal torch::linear's up to the order of float sums.
//
// The forward product of an input of at least kMinRowsForMatmul rows through a weight with no more
// rows than columns (out <= in: the attention projections, mlp.proj) runs on oneDNN's matmul
// primitive (util/cpu_matmul.h), which reads W as stored and adds the bias inside the product;
// everything else on sgemm, after broadcasting the bias into the output. Measured (2026-12-07,
// bench_gemm --matmul --rows 2048 --d-model 512, oneDNN 2.6.3 and 3.12.1): medium's q/k/v/o and
// mlp.proj forward with their bias ran at 276-327 GFLOP/s on sgemm (which reads a transposed W of
// those shapes slowly) and at 366-393 on the primitive; for wide outputs (mlp.fc, the LM head) sgemm
// is the faster (373-397 against 337-372). In a medium model's step (bench_train --profile) the
// forward's share of op time fell from ~31% to ~28%. Under 1,024 rows (decoding, the nanoGPT
// config's 768) the primitive is no faster, and each prompt length would generate one of its own.
// GPTFORGE_DENSE_MATMUL=0 keeps every product on sgemm, to compare.
#pragma once
#include <torch/torch.h>

namespace gptforge {

torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

// Whether the oneDNN path's forward of x with `rows` rows through an (out, in) weight runs on the
// matmul primitive.
constexpr int64_t kMinRowsForMatmul = 1024;
bool dense_forward_uses_matmul(int64_t rows, int64_t out, int64_t in);
// Turns that on or off for the whole process (GPTFORGE_DENSE_MATMUL sets the start; tests compare
// both ways in one process); returns the previous setting.
bool set_dense_forward_matmul_enabled(bool on);

// Whether dense(x, weight, bias) takes the oneDNN path (for tests and logs).
bool dense_uses_cpu_gemm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

}  // namespace gptforge
