// Causal self-attention alone, forward and forward + backward, on the benchmark models' shapes:
// LibTorch's kernel (scaled_dot_product_attention on LibTorch 2.x, the blocked composition on 1.x)
// against gptforge's fused kernel (model/fused_ops.h), fp32 on the CPU.
//
//   build/bench_attention [--threads 2] [--reps 20] [--cold] [--kernel both|library|fused]
//
// Prints the median time per call of each over `reps` calls after a warm-up and the rate of the
// causal products' useful arithmetic (forward 2 T^2 hd per head, backward twice that), the measure
// a training step sees. --cold writes a 64 MiB buffer before every call, so that the operands come
// from memory as they do inside a training step, not from the caches of the previous call.
#include <CLI/CLI.hpp>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "model/attention.h"
#include "model/fused_ops.h"
#include "util/config.h"
#include "util/runtime.h"

using namespace gptforge;

namespace {

double median_us(const std::function<void()>& call, const std::function<void()>& before, int reps) {
  for (int i = 0; i < 3; ++i) call();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    before();
    auto t0 = std::chrono::steady_clock::now();
    call();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// LibTorch's own causal attention, what the model calls when the fused kernel is off.
torch::Tensor library_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
#else
  return causal_attention_blocked(q, k, v, {}, 0.0, 64);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Causal attention: LibTorch's kernel against gptforge's fused kernel", "bench_attention"};
  int threads = 2, reps = 20;
  bool cold = false;
  std::string kernel = "both";
  app.add_option("--threads", threads, "Intra-op threads")->capture_default_str();
  app.add_option("--reps", reps, "Timed calls per shape and kernel")->capture_default_str();
  app.add_flag("--cold", cold, "Evict the caches before every call (64 MiB written)");
  app.add_option("--kernel", kernel, "Time only one of them (for a profiler)")
      ->check(CLI::IsMember({"both", "library", "fused"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  RunConfig run;  // what training sets up: the thread count, the caching allocator
  run.threads = threads;
  init_runtime(run);
  std::vector<float> evict(cold ? (size_t(64) << 20) / sizeof(float) : 0);
  auto before = [&] {
    for (size_t i = 0; i < evict.size(); i += 16) evict[i] += 1.0f;
  };
  struct Shape {
    const char* name;
    int64_t B, H, T, hd;
  };
  // bench/run.py's sizes: batch, heads, context, d_model / heads.
  const std::vector<Shape> shapes = {{"nanogpt", 12, 4, 64, 32}, {"tiny", 32, 4, 64, 32},
                                     {"small", 16, 8, 128, 32}, {"medium", 8, 8, 256, 64}};
  std::printf("%d threads%s; microseconds per call (GFLOP/s of the causal products)\n", threads, cold ? ", cold" : "");
  std::printf("%-8s %-26s %-26s %-26s %-26s\n", "size", "library fwd", "fused fwd", "library fwd+bwd", "fused fwd+bwd");
  for (const auto& s : shapes) {
    torch::manual_seed(0);
    // (B, H, T, hd) views of (B, T, H, hd) buffers, as the model's projections give them.
    auto make = [&] { return torch::randn({s.B, s.T, s.H, s.hd}).transpose(1, 2).requires_grad_(true); };
    auto q = make(), k = make(), v = make();
    auto grad = torch::randn({s.B, s.H, s.T, s.hd});
    const double fwd_flop = 2.0 * s.B * s.H * s.T * s.T * s.hd;  // two products, causal half each
    auto forward = [&](bool fused) {
      torch::NoGradGuard no_grad;
      return fused ? fused_causal_attention(q, k, v) : library_attention(q, k, v);
    };
    auto both = [&](bool fused) {
      auto out = fused ? fused_causal_attention(q, k, v) : library_attention(q, k, v);
      torch::autograd::grad({out}, {q, k, v}, {grad});
    };
    const bool same = torch::allclose(forward(true), forward(false), 1e-4, 1e-5);
    double us[4] = {0, 0, 0, 0};
    for (bool fused : {false, true}) {
      if (kernel != "both" && (kernel == "fused") != fused) continue;
      us[fused ? 1 : 0] = median_us([&] { forward(fused); }, before, reps);
      us[fused ? 3 : 2] = median_us([&] { both(fused); }, before, reps);
    }
    std::printf("%-8s", s.name);
    for (int i = 0; i < 4; ++i) {
      const double flop = i < 2 ? fwd_flop : 3 * fwd_flop;
      char cell[64];
      if (us[i] > 0) std::snprintf(cell, sizeof cell, "%.0f (%.0f)", us[i], flop / us[i] / 1e3);
      else std::snprintf(cell, sizeof cell, "-");
      std::printf(" %-26s", cell);
    }
    std::printf("%s\n", same ? "" : "  RESULTS DIFFER");
  }
  return 0;
}
