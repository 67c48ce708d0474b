#include "model/rope.h"

namespace gptforge {

RopeTables rope_tables(int64_t positions, int64_t head_dim, double theta) {
  auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  // inv_freq[i] = theta^(-2i/d); angle[pos, i] = pos * inv_freq[i].
  auto inv_freq = torch::pow(theta, -torch::arange(0, head_dim, 2, f64) / static_cast<double>(head_dim));
  auto angle = torch::outer(torch::arange(positions, f64), inv_freq);  // (positions, d/2)
  return {angle.cos().to(torch::kFloat), angle.sin().to(torch::kFloat)};
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto c = cos.to(x.scalar_type());
  auto s = sin.to(x.scalar_type());
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  // (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)
  return torch::cat({x1 * c - x2 * s, x2 * c + x1 * s}, -1);
}

}  // namespace gptforge
