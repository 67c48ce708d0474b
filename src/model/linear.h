// The model's linear layers: dense(x, W, b) = x W^T + b, as torch::linear, with x (..., in), W (out, in), b (out)
// or undefined.
//
// For fp32 CPU tensors, when oneDNN's sgemm is on (util/cpu_gemm.h: 2-3x OpenBLAS 0.3.21 on the
// models' products on an AVX-512 CPU), it is an autograd function whose forward and backward are
// three such products: y = x W^T, dx = dy W, dW = dy^T x, db = the column sums of dy. Anything else
// (other devices and dtypes, CPU autocast, a build without oneDNN, GPTFORGE_ONEDNN=0) is
// torch::linear. The results equal torch::linear's up to the order of float sums.
#pragma once
#include <torch/torch.h>

namespace gptforge {

torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

// Whether dense(x, weight, bias) takes the oneDNN path (for tests and logs).
bool dense_uses_cpu_gemm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

}  // namespace gptforge
