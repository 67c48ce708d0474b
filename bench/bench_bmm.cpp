// Attention's batched matmuls: torch::bmm against gptforge's batched_matmul (src/model/batched_matmul.h)
// on the products the benchmark models run, forward shapes, fp32 on CPU.
//
//   build/bench_bmm [--threads N] [--reps 50]
//
// Prints, per shape, the median time of each over `reps` calls after a warm-up, their GFLOP/s, and
// whether the two results agree.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <vector>

#include "model/batched_matmul.h"

using namespace gptforge;

namespace {

template <class F>
double median_us(F f, int reps) {
  for (int i = 0; i < 5; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"torch::bmm against batched_matmul on attention's shapes", "bench_bmm"};
  int threads = 0, reps = 50;
  app.add_option("--threads", threads, "Intra-op threads (0 = all cores)");
  app.add_option("--reps", reps, "Timed calls per shape")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) torch::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  std::printf("%d threads, batched_matmul: %s\n", torch::get_num_threads(), batched_matmul_backend());
  struct Shape {
    const char* what;
    int64_t batch, m, k, n;
    bool transposed_b;  // q k^T: the keys are passed transposed
  };
  const std::vector<Shape> shapes = {
      {"tiny q.k^T    (B*H 128, 64x32 . 32x64)", 128, 64, 32, 64, true},
      {"tiny att.v    (B*H 128, 64x64 . 64x32)", 128, 64, 64, 32, false},
      {"small q.k^T   (B*H 128, 64x32 . 32x128)", 128, 64, 32, 128, true},
      {"medium q.k^T  (B*H 64, 64x64 . 64x256)", 64, 64, 64, 256, true},
      {"medium att.v  (B*H 64, 64x256 . 256x64)", 64, 64, 256, 64, false},
  };
  std::printf("%-42s %12s %12s %8s %s\n", "product", "bmm us", "ours us", "speedup", "GFLOP/s bmm / ours");
  for (const auto& s : shapes) {
    torch::manual_seed(0);
    auto a = torch::randn({s.batch, s.m, s.k});
    auto b = s.transposed_b ? torch::randn({s.batch, s.n, s.k}).transpose(1, 2) : torch::randn({s.batch, s.k, s.n});
    const double t_bmm = median_us([&] { torch::bmm(a, b); }, reps);
    const double t_ours = median_us([&] { batched_matmul(a, b); }, reps);
    const double gflop = 2.0 * s.batch * s.m * s.k * s.n / 1e3;  // per microsecond -> GFLOP/s
    const bool same = torch::allclose(torch::bmm(a, b), batched_matmul(a, b), 1e-5, 1e-5);
    std::printf("%-42s %12.0f %12.0f %7.2fx %6.0f / %-6.0f%s\n", s.what, t_bmm, t_ours, t_bmm / t_ours, gflop / t_bmm,
                gflop / t_ours, same ? "" : "  RESULTS DIFFER");
  }
  return 0;
}
