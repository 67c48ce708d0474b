// The model's linear (model/linear.h) against torch::linear: values and gradients of x, W and b for
// 2-D and 3-D inputs, with and without bias, non-contiguous inputs, in-place use of its output, and
// a whole model's logits and gradients with oneDNN's sgemm on and off.
#include "model/linear.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "model/batched_matmul.h"
#include "model/gpt.h"
#include "model/model_test_helpers.h"
#include "util/cpu_gemm.h"

namespace linear_test {

using namespace gptforge;
using gptforge::testing::max_abs_diff;

// w_grad_tol: W's and b's gradients sum over every row of x, so their rounding grows with the rows.
void expect_matches_torch_linear(const torch::Tensor& x_in, const torch::Tensor& w_in, const torch::Tensor& b_in,
                                 double w_grad_tol = 1e-4) {
  auto x = x_in.detach().requires_grad_(true), w = w_in.detach().requires_grad_(true);
  auto rx = x_in.detach().clone().requires_grad_(true), rw = w_in.detach().clone().requires_grad_(true);
  torch::Tensor b, rb;
  if (b_in.defined()) {
    b = b_in.detach().requires_grad_(true);
    rb = b_in.detach().clone().requires_grad_(true);
  }
  torch::Tensor out = dense(x, w, b), ref = torch::linear(rx, rw, rb);
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_LT(max_abs_diff(out, ref), 1e-4);
  auto g = torch::randn_like(ref);
  (out * g).sum().backward();
  (ref * g).sum().backward();
  EXPECT_LT(max_abs_diff(x.grad(), rx.grad()), 1e-4);
  EXPECT_LT(max_abs_diff(w.grad(), rw.grad()), w_grad_tol);
  if (b.defined()) EXPECT_LT(max_abs_diff(b.grad(), rb.grad()), w_grad_tol);
}

TEST(Linear, MatchesTorchLinearInValuesAndGradients) {
  torch::manual_seed(3);
  const int64_t in = 24, out = 40;
  auto w = torch::randn({out, in}), b = torch::randn({out});
  expect_matches_torch_linear(torch::randn({7, in}), w, b);
  expect_matches_torch_linear(torch::randn({3, 5, in}), w, b);
  expect_matches_torch_linear(torch::randn({3, 5, in}), w, {});
  // Non-contiguous input (attention's transposed heads) and a transposed weight.
  expect_matches_torch_linear(torch::randn({5, 3, in}).transpose(0, 1), w, b);
  expect_matches_torch_linear(torch::randn({4, in}), torch::randn({in, out}).t(), {});
  // One row (cached decoding), and one position of several rows.
  expect_matches_torch_linear(torch::randn({1, in}), w, b);
  expect_matches_torch_linear(torch::randn({1, 1, in}), w, {});
  expect_matches_torch_linear(torch::randn({3, 1, in}), w, b);
  expect_matches_torch_linear(torch::randn({3, 9, in}).narrow(1, 4, 1), w, b);
}

// Inputs of kMinRowsForMatmul rows and more through a weight with no more rows than columns take
// oneDNN's matmul primitive forward (bias inside the product): the same values and gradients as
// torch::linear either way, and the same as the sgemm path up to the order of float sums.
TEST(Linear, MatmulPrimitiveForwardMatchesTorchLinear) {
  torch::manual_seed(5);
  const int64_t rows = kMinRowsForMatmul;
  EXPECT_TRUE(!onednn_gemm_enabled() || dense_forward_uses_matmul(rows, 40, 40) ||
              std::getenv("GPTFORGE_DENSE_MATMUL") != nullptr);
  EXPECT_FALSE(dense_forward_uses_matmul(rows - 1, 40, 40));
  EXPECT_FALSE(dense_forward_uses_matmul(rows, 41, 40));
  auto narrow_w = torch::randn({24, 40}), square_w = torch::randn({40, 40}), b24 = torch::randn({24});
  for (bool on : {true, false}) {
    SCOPED_TRACE(on ? "matmul primitive" : "sgemm");
    const bool was = set_dense_forward_matmul_enabled(on);
    EXPECT_EQ(dense_forward_uses_matmul(rows, 24, 40), on);
    // Sums of ~1,000 products of unit-variance terms (about 30 in size): 1e-3 is float rounding.
    expect_matches_torch_linear(torch::randn({rows, 40}), narrow_w, b24, 1e-3);
    expect_matches_torch_linear(torch::randn({4, rows / 4, 40}), square_w, {}, 1e-3);
    // A transposed (non-contiguous) weight, as LoRA's merged views or a tied head could give.
    expect_matches_torch_linear(torch::randn({rows + 3, 40}), torch::randn({40, 24}).t(), b24, 1e-3);
    set_dense_forward_matmul_enabled(was);
  }
  // Both ways agree with each other on a model-sized product with a bias.
  auto x = torch::randn({2048, 128}), w = torch::randn({128, 128}), b = torch::randn({128});
  const bool was = set_dense_forward_matmul_enabled(true);
  auto primitive = dense(x, w, b);
  set_dense_forward_matmul_enabled(false);
  auto sgemm = dense(x, w, b);
  set_dense_forward_matmul_enabled(was);
  EXPECT_LT(max_abs_diff(primitive, sgemm), 1e-4);
}

TEST(Linear, TakesTheCpuGemmPathWhereItShould) {
  auto x = torch::randn({4, 8}), w = torch::randn({6, 8});
  EXPECT_EQ(dense_uses_cpu_gemm(x, w), onednn_gemm_enabled());
  EXPECT_FALSE(dense_uses_cpu_gemm(x.to(torch::kDouble), w.to(torch::kDouble)));
  const bool was = set_onednn_gemm_enabled(false);
  EXPECT_FALSE(dense_uses_cpu_gemm(x, w));
  set_onednn_gemm_enabled(was);
}

TEST(Linear, LeavesItsInputsUnchanged) {
  // One row with a bias: the bias broadcast to one row is the bias itself, and must not be the output.
  for (int64_t rows : {1, 5}) {
    auto x = torch::randn({rows, 8}), w = torch::randn({6, 8}), b = torch::randn({6});
    auto x0 = x.clone(), w0 = w.clone(), b0 = b.clone();
    for (int i = 0; i < 2; ++i) dense(x, w, b);
    EXPECT_TRUE(torch::equal(x, x0));
    EXPECT_TRUE(torch::equal(w, w0));
    EXPECT_TRUE(torch::equal(b, b0)) << rows << " rows";
  }
}

TEST(Linear, ChangingAnInputBeforeTheBackwardIsAnError) {
  // As for torch::linear: the backward would read the changed values.
  auto w = torch::randn({6, 8}).requires_grad_(true);
  auto x = torch::randn({3, 8}).requires_grad_(true);
  auto h = x * 1.0;  // a non-leaf the next line may change in place
  auto y = dense(h, w);
  h.add_(1.0);
  EXPECT_THROW(y.sum().backward(), c10::Error);
}

TEST(Linear, OutputMayBeModifiedInPlace) {
  // The MLP's relu_ writes into the fc layer's output.
  auto x = torch::randn({2, 3, 8}).requires_grad_(true), w = torch::randn({6, 8}).requires_grad_(true);
  auto rx = x.detach().clone().requires_grad_(true), rw = w.detach().clone().requires_grad_(true);
  dense(x, w).relu_().sum().backward();
  torch::linear(rx, rw).relu_().sum().backward();
  EXPECT_LT(max_abs_diff(x.grad(), rx.grad()), 1e-5);
  EXPECT_LT(max_abs_diff(w.grad(), rw.grad()), 1e-5);
}

TEST(Linear, NoGradInputsGiveNoGradients) {
  auto x = torch::randn({3, 8}), w = torch::randn({6, 8}).requires_grad_(true);
  dense(x, w).sum().backward();
  EXPECT_TRUE(w.grad().defined());
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(dense(x, w).requires_grad());
}

// Logits and every parameter's gradient of a whole model with oneDNN's sgemm on and off; the two
// agree to float rounding. Without oneDNN in the build both runs take the same path.
void expect_same_model_with_and_without_onednn(const ModelConfig& cfg) {
  torch::manual_seed(11);
  GPT model(cfg);
  auto idx = gptforge::testing::random_tokens(cfg.vocab_size, 3, cfg.block_size);
  auto run = [&](bool onednn) {
    const bool was = set_onednn_gemm_enabled(onednn);
    model->zero_grad();
    auto logits = model->forward(idx);
    (logits * logits).mean().backward();
    std::vector<torch::Tensor> grads{logits.detach()};
    for (auto& p : model->parameters()) grads.push_back(p.grad().clone());
    set_onednn_gemm_enabled(was);
    return grads;
  };
  auto on = run(true), off = run(false);
  ASSERT_EQ(on.size(), off.size());
  for (size_t i = 0; i < on.size(); ++i) {
    EXPECT_LT(max_abs_diff(on[i], off[i]), 1e-4 * std::max(1.0, off[i].abs().max().item<double>())) << "tensor " << i;
  }
}

TEST(Linear, ModelIsTheSameWithAndWithoutOneDnn) {
  expect_same_model_with_and_without_onednn(gptforge::testing::tiny_config());
  expect_same_model_with_and_without_onednn(gptforge::testing::tiny_llama_config());
}

TEST(Linear, BatchedMatmulIsTheSameWithAndWithoutOneDnn) {
  torch::manual_seed(5);
  auto a = torch::randn({6, 5, 7}), b = torch::randn({6, 3, 7}).transpose(1, 2);
  const bool was = set_onednn_gemm_enabled(true);
  auto on = batched_matmul(a, b);
  set_onednn_gemm_enabled(false);
  auto off = batched_matmul(a, b);
  set_onednn_gemm_enabled(was);
  EXPECT_LT(max_abs_diff(on, torch::bmm(a, b)), 1e-5);
  EXPECT_LT(max_abs_diff(off, torch::bmm(a, b)), 1e-5);
}

}  // namespace linear_test
