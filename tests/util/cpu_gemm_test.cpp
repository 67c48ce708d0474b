// cpu_sgemm against torch::mm: every transposition, padded rows, alpha and beta, on oneDNN (when the
// build has it) and on the LibTorch fallback.
#include "util/cpu_gemm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "padded_matrix.h"

namespace cpu_gemm_test {
using namespace gptforge;

using gptforge::testing::padded_matrix;
using gptforge::testing::PaddedMatrix;

void check_all_layouts() {
  torch::manual_seed(7);
  const int64_t m = 37, n = 29, k = 53;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (float beta : {0.0f, 0.5f}) {
        PaddedMatrix a = padded_matrix(m, k, ta, 3), b = padded_matrix(k, n, tb, 5);
        torch::Tensor c0 = torch::randn({m, n + 2});
        torch::Tensor c = c0.clone();
        cpu_sgemm(ta, tb, m, n, k, 1.5f, a.buffer.data_ptr<float>(), a.ld, b.buffer.data_ptr<float>(), b.ld, beta,
                  c.data_ptr<float>(), n + 2);
        torch::Tensor want = 1.5f * torch::mm(a.op, b.op) + beta * c0.narrow(1, 0, n);
        EXPECT_TRUE(torch::allclose(c.narrow(1, 0, n), want, 1e-4, 1e-4))
            << "trans_a " << ta << " trans_b " << tb << " beta " << beta << " on " << cpu_gemm_backend();
        EXPECT_TRUE(torch::equal(c.narrow(1, n, 2), c0.narrow(1, n, 2))) << "wrote past n columns";
      }
    }
  }
}

TEST(CpuGemm, MatchesMmForEveryLayout) { check_all_layouts(); }

TEST(CpuGemm, FallbackMatchesMmForEveryLayout) {
  const bool was = set_onednn_gemm_enabled(false);
  EXPECT_FALSE(onednn_gemm_enabled());
  check_all_layouts();
  set_onednn_gemm_enabled(was);
}

#ifdef GPTFORGE_TEST_EXPECT_ONEDNN
// A build that links oneDNN must use it unless told not to (the speed of the CPU path depends on it).
TEST(CpuGemm, OneDnnIsOnWhenBuiltWithIt) {
  EXPECT_TRUE(onednn_gemm_enabled());
  EXPECT_NE(std::string(cpu_gemm_backend()).find("oneDNN"), std::string::npos) << cpu_gemm_backend();
}
#endif

}  // namespace cpu_gemm_test
