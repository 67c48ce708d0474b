// cpu_matmul against torch::mm plus the bias: every transposition, padded rows, with and without a
// bias, on oneDNN's matmul primitive (when the build has it) and on the sgemm fallback; a shape's
// primitive is generated once and reused.
#include "util/cpu_matmul.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "padded_matrix.h"
#include "util/cpu_gemm.h"

namespace cpu_matmul_test {
using namespace gptforge;

using gptforge::testing::padded_matrix;
using gptforge::testing::PaddedMatrix;

void check_all_layouts() {
  torch::manual_seed(11);
  const int64_t m = 41, n = 23, k = 57;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (bool with_bias : {false, true}) {
        PaddedMatrix a = padded_matrix(m, k, ta, 3), b = padded_matrix(k, n, tb, 5);
        torch::Tensor bias = torch::randn({n});
        torch::Tensor c0 = torch::randn({m, n + 2});
        torch::Tensor c = c0.clone();
        cpu_matmul(ta, tb, m, n, k, a.buffer.data_ptr<float>(), a.ld, b.buffer.data_ptr<float>(), b.ld,
                   with_bias ? bias.data_ptr<float>() : nullptr, c.data_ptr<float>(), n + 2);
        torch::Tensor want = torch::mm(a.op, b.op);
        if (with_bias) want = want + bias;
        EXPECT_TRUE(torch::allclose(c.narrow(1, 0, n), want, 1e-4, 1e-4))
            << "trans_a " << ta << " trans_b " << tb << " bias " << with_bias << " on " << cpu_gemm_backend();
        EXPECT_TRUE(torch::equal(c.narrow(1, n, 2), c0.narrow(1, n, 2))) << "wrote past n columns";
      }
    }
  }
}

TEST(CpuMatmul, MatchesMmPlusBiasForEveryLayout) { check_all_layouts(); }

TEST(CpuMatmul, FallbackMatchesMmPlusBiasForEveryLayout) {
  const bool was = set_onednn_gemm_enabled(false);
  const int64_t made = cpu_matmul_primitives_created();
  check_all_layouts();
  EXPECT_EQ(cpu_matmul_primitives_created(), made) << "the fallback generated a oneDNN primitive";
  set_onednn_gemm_enabled(was);
}

TEST(CpuMatmul, GeneratesAShapesPrimitiveOnce) {
  if (!onednn_gemm_enabled()) GTEST_SKIP() << "built without oneDNN: " << cpu_gemm_backend();
  const int64_t m = 19, n = 13, k = 31;  // a shape no other test uses
  auto a = torch::randn({m, k}), b = torch::randn({n, k}), bias = torch::randn({n}), c = torch::empty({m, n});
  auto run = [&](const float* with_bias) {
    cpu_matmul(false, true, m, n, k, a.data_ptr<float>(), k, b.data_ptr<float>(), k, with_bias, c.data_ptr<float>(), n);
  };
  const int64_t before = cpu_matmul_primitives_created();
  run(bias.data_ptr<float>());
  EXPECT_EQ(cpu_matmul_primitives_created(), before + 1);
  run(bias.data_ptr<float>());
  run(bias.data_ptr<float>());
  EXPECT_EQ(cpu_matmul_primitives_created(), before + 1) << "the same shape generated its primitive again";
  EXPECT_TRUE(torch::allclose(c, torch::addmm(bias, a, b.t()), 1e-4, 1e-4));
  run(nullptr);  // without the bias: a primitive of its own
  EXPECT_EQ(cpu_matmul_primitives_created(), before + 2);
  EXPECT_TRUE(torch::allclose(c, torch::mm(a, b.t()), 1e-4, 1e-4));
}

// Past kMaxCachedMatmuls shapes the cache starts over, and every product stays right.
TEST(CpuMatmul, ManyShapesStayCorrect) {
  if (!onednn_gemm_enabled()) GTEST_SKIP() << "built without oneDNN: " << cpu_gemm_backend();
  torch::manual_seed(13);
  for (int64_t m = 1; m <= kMaxCachedMatmuls + 6; ++m) {
    auto a = torch::randn({m, 8}), b = torch::randn({8, 5}), bias = torch::randn({5}), c = torch::empty({m, 5});
    cpu_matmul(false, false, m, 5, 8, a.data_ptr<float>(), 8, b.data_ptr<float>(), 5, bias.data_ptr<float>(),
               c.data_ptr<float>(), 5);
    ASSERT_TRUE(torch::allclose(c, torch::addmm(bias, a, b), 1e-4, 1e-4)) << "m = " << m;
  }
}

}  // namespace cpu_matmul_test
