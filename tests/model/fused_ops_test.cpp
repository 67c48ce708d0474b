// The hand-written CPU kernels (fused_ops.h) against the LibTorch composition they replace: values
// and gradients, on the shapes the models use and on awkward ones.
#include "model/attention_kernel.h"
#include "model/fused_ops.h"

#include <gtest/gtest.h>
#include <torch/version.h>

#include <cstdlib>

#include "model/attention.h"
#include "util/cpu_gemm.h"
#include "model_test_helpers.h"

namespace fused_ops_test {

using namespace gptforge;
using gptforge::testing::max_abs_diff;

namespace {

// (B, heads, T, hd) as the model makes it: a transposed view of a (B, T, heads, hd) projection.
torch::Tensor heads_view(int64_t B, int64_t heads, int64_t T, int64_t hd) {
  return torch::randn({B, T, heads, hd}).transpose(1, 2).requires_grad_(true);
}

}  // namespace

TEST(FusedAttention, MatchesTheCompositionInValuesAndGradients) {
  torch::manual_seed(3);
  struct Case {
    int64_t heads, kv_heads, T, hd;
  };
  // Head dims 8, 24, 32, 64; T of one query, within one block of queries, exactly one, several
  // with a partial last one, and the longest taken; MHA, GQA, MQA.
  for (Case c : {Case{4, 4, kAttentionBlock, 32}, Case{4, 2, 13, 64}, Case{4, 1, 1, 8}, Case{2, 2, 100, 24},
                 Case{4, 2, 2 * kAttentionBlock + 22, 64}, Case{2, 1, kFusedAttentionMaxContext, 8}}) {
    SCOPED_TRACE("heads=" + std::to_string(c.heads) + " kv=" + std::to_string(c.kv_heads) + " T=" +
                 std::to_string(c.T) + " hd=" + std::to_string(c.hd));
    auto q = heads_view(2, c.heads, c.T, c.hd);
    auto k = heads_view(2, c.kv_heads, c.T, c.hd);
    auto v = heads_view(2, c.kv_heads, c.T, c.hd);
    ASSERT_TRUE(fused_attention_supports(q, k, v));
    auto w = torch::randn({2, c.heads, c.T, c.hd});  // a loss that weighs every output differently
    auto fused = fused_causal_attention(q, k, v);
    auto fused_grads = torch::autograd::grad({(fused * w).sum()}, {q, k, v});
    auto want = attention_reference(q, k, v);
    auto want_grads = torch::autograd::grad({(want * w).sum()}, {q, k, v});
    EXPECT_EQ(fused.sizes(), want.sizes());
    EXPECT_LT(max_abs_diff(fused, want), 1e-5);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(fused_grads[i].sizes(), want_grads[i].sizes());
      EXPECT_LT(max_abs_diff(fused_grads[i], want_grads[i]), 2e-5) << "grad " << i;
    }
  }
}

TEST(FusedAttention, ContiguousInputsAndNoGradGiveTheSameValues) {
  torch::manual_seed(4);
  auto q = torch::randn({3, 4, 20, 32}), k = torch::randn({3, 2, 20, 32}), v = torch::randn({3, 2, 20, 32});
  torch::NoGradGuard no_grad;
  EXPECT_LT(max_abs_diff(fused_causal_attention(q, k, v), attention_reference(q, k, v)), 1e-5);
}

TEST(FusedAttention, IsCausal) {
  // Changing the last position's keys and values changes only the last query's output.
  torch::manual_seed(5);
  auto q = torch::randn({1, 2, 9, 32}), k = torch::randn({1, 2, 9, 32}), v = torch::randn({1, 2, 9, 32});
  auto before = fused_causal_attention(q, k, v);
  k.select(2, 8).add_(1.0);
  v.select(2, 8).add_(1.0);
  auto after = fused_causal_attention(q, k, v);
  EXPECT_EQ(max_abs_diff(before.narrow(2, 0, 8), after.narrow(2, 0, 8)), 0.0);
  EXPECT_GT(max_abs_diff(before.narrow(2, 8, 1), after.narrow(2, 8, 1)), 1e-3);
}

TEST(FusedAttention, AppliesOnlyWhereItShould) {
  auto q = torch::randn({1, 2, 8, 16}), k = torch::randn({1, 2, 8, 16});
  EXPECT_TRUE(fused_attention_supports(q, k, k));
  // A cached prefix (more keys than queries), another dtype, a context beyond the limit, heads that
  // do not divide.
  EXPECT_FALSE(fused_attention_supports(q.narrow(2, 0, 3), k, k));
  EXPECT_FALSE(fused_attention_supports(q.to(torch::kDouble), k.to(torch::kDouble), k.to(torch::kDouble)));
  auto long_q = torch::randn({1, 1, kFusedAttentionMaxContext + 1, 4});
  EXPECT_FALSE(fused_attention_supports(long_q, long_q, long_q));
  auto three = torch::randn({1, 3, 8, 16});
  EXPECT_FALSE(fused_attention_supports(three, k, k));
}

TEST(FusedGelu, MatchesTorchGeluInValuesAndGradients) {
  torch::manual_seed(6);
  // Ordinary activations, the saturated tails, and a transposed (non-contiguous) input.
  auto x = torch::cat({torch::randn({3019}) * 2.0, torch::linspace(-30.0, 30.0, 601)}).view({181, 20}).t();
  x.requires_grad_(true);
  auto g = torch::randn(x.sizes());
  auto fused = fused_gelu_tanh(x);
  auto fused_grad = torch::autograd::grad({(fused * g).sum()}, {x})[0];
  auto want = torch::gelu(x, "tanh");
  auto want_grad = torch::autograd::grad({(want * g).sum()}, {x})[0];
  EXPECT_LT(max_abs_diff(fused, want), 2e-6);
  EXPECT_LT(max_abs_diff(fused_grad, want_grad), 1e-4);
  EXPECT_TRUE(fused_gelu_supports(x));
  EXPECT_FALSE(fused_gelu_supports(x.to(torch::kDouble)));
}

TEST(FusedKernels, DefaultsAreTheDocumentedOnes) {
  // fused_ops.h: GELU on; attention on when the products run on oneDNN, else off.
  // The variables override them; this checks the defaults only where ctest leaves them unset.
  if (std::getenv("GPTFORGE_FUSED_GELU") == nullptr) EXPECT_TRUE(fused_gelu_enabled());
  if (std::getenv("GPTFORGE_FUSED_ATTN") == nullptr) {
    EXPECT_EQ(fused_attention_enabled(), onednn_gemm_enabled());
  }
}

}  // namespace fused_ops_test
