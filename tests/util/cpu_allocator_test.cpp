#include "util/cpu_allocator.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace cpu_allocator_test {

using namespace gptforge;

TEST(CpuAllocator, ReusesFreedLargeBlocksAndLeavesSmallOnesAlone) {
  install_caching_cpu_allocator();
  ASSERT_TRUE(cpu_cache_stats().installed);
  void* first = nullptr;
  {
    auto a = torch::ones({1 << 20});  // 4 MiB
    first = a.data_ptr();
  }
  const CpuCacheStats before = cpu_cache_stats();
  EXPECT_GE(before.cached_bytes, int64_t(4) << 20);
  {
    auto b = torch::zeros({1 << 20});  // the same size: the same block, and still zero-filled
    EXPECT_EQ(b.data_ptr(), first);
    EXPECT_EQ(b.sum().item<float>(), 0.0f);
    b.fill_(2.0f);
    EXPECT_EQ(b.sum().item<float>(), float(2 << 20));
  }
  const CpuCacheStats after = cpu_cache_stats();
  EXPECT_EQ(after.hits, before.hits + 1);
  // Small tensors never reach the cache.
  { auto c = torch::ones({16}); }
  EXPECT_EQ(cpu_cache_stats().hits, after.hits);
  EXPECT_EQ(cpu_cache_stats().misses, after.misses);
}

TEST(CpuAllocator, ReusedBlocksGiveExactGradients) {
  install_caching_cpu_allocator();
  torch::manual_seed(3);
  auto w = torch::randn({512, 512}, torch::requires_grad());
  for (int i = 0; i < 4; ++i) {  // the same shapes every iteration: later ones run on reused blocks
    w.mutable_grad() = torch::Tensor();
    auto x = torch::randn({256, 512});
    torch::mm(x, w).square().sum().backward();
    torch::NoGradGuard no_grad;
    auto expected = 2 * torch::mm(x.t(), torch::mm(x, w));  // d/dw sum((xw)^2)
    EXPECT_TRUE(torch::allclose(w.grad(), expected, 1e-4, 1e-3)) << "iteration " << i;
  }
  EXPECT_GT(cpu_cache_stats().hits, 0);
}

}  // namespace cpu_allocator_test
