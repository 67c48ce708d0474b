// An operand for the BLAS-style product tests (cpu_gemm_test, cpu_matmul_test): op(X) (rows x cols)
// stored, as the products read it, row-major or transposed, in a buffer whose row stride exceeds its
// stored width. The padding is NaN, so that a product reading it would show in its result.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <limits>

namespace gptforge::testing {

struct PaddedMatrix {
  torch::Tensor buffer, op;  // op: the logical (rows x cols) matrix, a view of buffer
  int64_t ld = 0;            // the buffer's row stride
};

inline PaddedMatrix padded_matrix(int64_t rows, int64_t cols, bool trans, int64_t pad) {
  const int64_t r = trans ? cols : rows, c = trans ? rows : cols;
  PaddedMatrix s;
  s.ld = c + pad;
  s.buffer = torch::full({r, s.ld}, std::numeric_limits<float>::quiet_NaN());
  s.buffer.narrow(1, 0, c).copy_(torch::randn({r, c}));
  auto stored = s.buffer.narrow(1, 0, c);
  s.op = trans ? stored.t() : stored;
  return s;
}

}  // namespace gptforge::testing
