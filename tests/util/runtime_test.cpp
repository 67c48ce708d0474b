#include "util/runtime.h"

#include <gtest/gtest.h>

namespace runtime_test {

using namespace gptforge;

// LibTorch's parallel_for runs in parallel only where the calling file was compiled with OpenMP
// (CMakeLists.txt): without it, the fused kernels and AdamW ran on one thread whatever the count.
TEST(Runtime, ParallelLoopsRunOnAsManyThreadsAsSet) {
  const int was = at::get_num_threads();
  at::set_num_threads(2);
  EXPECT_EQ(parallel_loop_threads(), 2);
  at::set_num_threads(1);
  EXPECT_EQ(parallel_loop_threads(), 1);
  at::set_num_threads(was);
}

}  // namespace runtime_test
