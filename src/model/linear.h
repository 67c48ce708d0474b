// The model's linear layers: dense(x, W, b) = x W^T + b, as torch::linear, with x (..., in), W (out, in), b (out)
// or undefined.
//
// For fp32 CPU tensors, when oneDNN's sgemm is on (util/cpu_gemm.h: 2-3x OpenBLAS 0.3.21 on the
// models' products on an AVX-512 CPU), it is an autograd function whose forward and backward are
// three such products: y = x W^T, dx = dy W, dW = dy^T x, db = the column sums of dy. Anything else
// (other devices and dtypes, CPU autocast, a build without oneDNN, GPTFORGE_ONEDNN=0) is
// torch::linear. The results equal torch::linear's up to the order of float sums.
//
// The forward product x W^T runs as x times a transposed copy of W (both operands as stored: "NN")
// when W has no more rows than columns (out <= in: the attention projections, mlp.proj) and x has
// at least kMinRowsToTransposeWeight rows, and reads W transposed ("NT") otherwise. oneDNN's sgemm,
// 2.6 and 3.12 alike (bench_gemm --layouts --rows 2048), runs the NT product of those shapes
// 1.1-1.5x slower than the NN one (225-356 against 330-401 GFLOP/s at d_model 128-512), and about
// as fast for wide outputs (mlp.fc, the LM head). The copy costs a pass over W (about 0.5 ns per
// element on 2 threads): under a thousand rows, as in decoding or the nanoGPT config's 768, it would
// take most of what it saves. GPTFORGE_DENSE_NN=0 keeps the NT product, to compare.
#pragma once
#include <torch/torch.h>

namespace gptforge {

torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

// Whether the oneDNN path's forward of x with `rows` rows multiplies by a transposed copy of an
// (out, in) weight.
constexpr int64_t kMinRowsToTransposeWeight = 1024;
bool dense_transposes_weight(int64_t rows, int64_t out, int64_t in);
// Turns that copy on or off for the whole process (GPTFORGE_DENSE_NN sets the start; tests compare
// both ways in one process); returns the previous setting.
bool set_dense_weight_transpose_enabled(bool on);

// Whether dense(x, weight, bias) takes the oneDNN path (for tests and logs).
bool dense_uses_cpu_gemm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

}  // namespace gptforge
