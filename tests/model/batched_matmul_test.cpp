// batched_matmul against torch::bmm: values and gradients for every operand layout BLAS reads
// directly (row-major, transposed, strided batches) and for layouts it must copy first.
#include "model/batched_matmul.h"

#include <gtest/gtest.h>
#include <torch/version.h>

namespace batched_matmul_test {

using namespace gptforge;

namespace {

// Checks batched_matmul(a, b) and its gradients against torch::bmm on copies of a and b.
void expect_matches_bmm(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  auto a = a_in.detach().requires_grad_(true), b = b_in.detach().requires_grad_(true);
  auto ra = a_in.detach().clone().requires_grad_(true), rb = b_in.detach().clone().requires_grad_(true);
  torch::Tensor out = batched_matmul(a, b), ref = torch::bmm(ra, rb);
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_TRUE(torch::allclose(out, ref, 1e-5, 1e-5)) << (out - ref).abs().max().item<double>();
  auto g = torch::randn_like(ref);
  (out * g).sum().backward();
  (ref * g).sum().backward();
  EXPECT_TRUE(torch::allclose(a.grad(), ra.grad(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(b.grad(), rb.grad(), 1e-5, 1e-5));
}

}  // namespace

TEST(BatchedMatmul, MatchesBmmForEveryLayout) {
  torch::manual_seed(0);
  const int64_t batch = 6, m = 5, k = 7, n = 3;
  auto a = torch::randn({batch, m, k}), b = torch::randn({batch, k, n});
  expect_matches_bmm(a, b);                                               // both row-major
  expect_matches_bmm(torch::randn({batch, k, m}).transpose(1, 2), b);     // a transposed
  expect_matches_bmm(a, torch::randn({batch, n, k}).transpose(1, 2));     // b transposed (q k^T)
  expect_matches_bmm(torch::randn({batch, k, m}).transpose(1, 2), torch::randn({batch, n, k}).transpose(1, 2));
  // Strided: rows longer than the matrix (a narrow over keys) and every other batch entry.
  expect_matches_bmm(torch::randn({batch, m, k + 4}).narrow(2, 0, k), torch::randn({2 * batch, k, n}).slice(0, 0, 2 * batch, 2));
  // No unit stride in either matrix dimension: copied, then multiplied.
  expect_matches_bmm(torch::randn({batch, m, 2 * k}).slice(2, 0, 2 * k, 2), b);
  // Degenerate shapes: one row (cached decoding), an empty inner dimension.
  expect_matches_bmm(torch::randn({batch, 1, k}), b);
  auto empty_inner = batched_matmul(torch::randn({batch, m, 0}), torch::randn({batch, 0, n}));
  EXPECT_TRUE(torch::equal(empty_inner, torch::zeros({batch, m, n})));
}

TEST(BatchedMatmul, UsesBlasForFloatOnCpuAndBmmOtherwise) {
  auto a = torch::randn({2, 3, 4}), b = torch::randn({2, 4, 5});
#if TORCH_VERSION_MAJOR < 2
  // Debian's LibTorch: the build links the BLAS LibTorch uses, so fp32 CPU products take it.
  EXPECT_TRUE(batched_matmul_uses_blas(a, b));
#endif
  EXPECT_FALSE(batched_matmul_uses_blas(a.to(torch::kDouble), b.to(torch::kDouble)));
  expect_matches_bmm(a.to(torch::kDouble), b.to(torch::kDouble));
}

}  // namespace batched_matmul_test
