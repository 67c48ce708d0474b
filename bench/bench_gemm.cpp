// The model's matrix products on the CPU: LibTorch's mm (OpenBLAS here) against cpu_sgemm (oneDNN's
// sgemm when the build has it), on the shapes of one model's step (by default the nanoGPT config's:
// 768 rows, d_model 128, MLP 512, vocabulary 65; bench/run.py's medium is --rows 2048 --d-model 512
// --vocab 4096) and a 1024^3 product. Median of 7 timings of 100 calls each (5 for 1024^3, 20 for
// products over 1 GFLOP), after a warm-up, both in this process, alternating.
//
// --layouts adds, per product, cpu_sgemm's rate for each way of storing its operands (A as m x k or
// k x m, B as k x n or n x k: the same product, what a transposed copy of an operand would buy) and
// for computing C^T = op(B)^T op(A)^T instead (a transposed result).
//
// --matmul adds, per product, oneDNN's matmul primitive (util/cpu_matmul.h) against cpu_sgemm on the
// model's storage, and for the forward products both with a bias (sgemm after broadcasting it into
// C, as dense() does on that path; the primitive adds it inside the product).
//
//   build/bench_gemm [--threads N] [--rows 768] [--d-model 128] [--vocab 65] [--layouts] [--matmul]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "util/cpu_gemm.h"
#include "util/cpu_matmul.h"

using namespace gptforge;

int main(int argc, char** argv) {
  CLI::App app{"LibTorch mm against cpu_sgemm on the models' shapes", "bench_gemm"};
  int threads = 2;
  app.add_option("--threads", threads, "Intra-op threads")->capture_default_str();
  int64_t rows = 768, d = 128, vocab = 65;
  app.add_option("--rows", rows, "Tokens per step (batch x context)")->capture_default_str();
  app.add_option("--d-model", d, "Model width (the MLP is 4x)")->capture_default_str();
  app.add_option("--vocab", vocab, "Vocabulary (the LM head's outputs)")->capture_default_str();
  bool layouts = false;
  app.add_flag("--layouts", layouts, "Also time cpu_sgemm on every storage of the operands");
  bool matmul = false;
  app.add_flag("--matmul", matmul, "Also time oneDNN's matmul primitive (cpu_matmul), with and without a bias");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  struct Shape {
    const char* what;
    bool ta, tb;
    int64_t m, n, k;
  };
  // y = x W^T (forward), dx = dy W, dW = dy^T x: (trans_a, trans_b) as the model's dense() runs them.
  const int64_t h = 4 * d;
  const std::vector<Shape> shapes = {
      {"fwd q/k/v/o", false, true, rows, d, d},     {"fwd q,k,v as one", false, true, rows, 3 * d, d},
      {"fwd mlp.fc", false, true, rows, h, d},      {"fwd mlp.proj", false, true, rows, d, h},
      {"fwd lm head", false, true, rows, vocab, d}, {"dx q/k/v/o", false, false, rows, d, d},
      {"dx q,k,v as one", false, false, rows, d, 3 * d}, {"dx mlp.fc", false, false, rows, d, h},
      {"dx mlp.proj", false, false, rows, h, d},    {"dW q/k/v/o", true, false, d, d, rows},
      {"dW q,k,v as one", true, false, 3 * d, d, rows}, {"dW mlp.fc", true, false, h, d, rows},
      {"dW mlp.proj", true, false, d, h, rows},     {"1024^3", false, false, 1024, 1024, 1024}};
  std::printf("%s, %d threads\n| product | m x n x k | mm GFLOP/s | %s GFLOP/s | ratio |\n|---|---|---|---|---|\n",
              cpu_gemm_backend(), torch::get_num_threads(), cpu_gemm_backend());
  std::vector<std::string> layout_rows, matmul_rows;
  for (const auto& s : shapes) {
    auto a = s.ta ? torch::randn({s.k, s.m}) : torch::randn({s.m, s.k});
    auto b = s.tb ? torch::randn({s.n, s.k}) : torch::randn({s.k, s.n});
    auto c = torch::empty({s.m, s.n});
    auto opa = s.ta ? a.t() : a, opb = s.tb ? b.t() : b;
    auto mm = [&] { torch::mm_out(c, opa, opb); };
    auto gemm = [&] {
      cpu_sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data_ptr<float>(), a.size(1), b.data_ptr<float>(), b.size(1), 0.0f,
                c.data_ptr<float>(), s.n);
    };
    const double product_flops = 2.0 * s.m * s.n * s.k;
    const int calls = s.m == 1024 && s.n == 1024 ? 5 : product_flops > 1e9 ? 20 : 100;
    auto time = [&](auto f) {
      for (int i = 0; i < 5; ++i) f();
      std::vector<double> v;
      for (int r = 0; r < 7; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) f();
        v.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / calls);
      }
      std::sort(v.begin(), v.end());
      return v[3];
    };
    double t_mm = 0, t_gemm = 0;
    for (int round = 0; round < 2; ++round) {  // the second round's figures, after both are warm
      t_mm = time(mm);
      t_gemm = time(gemm);
    }
    const double flops = 2.0 * s.m * s.n * s.k;
    std::printf("| %s | %lld x %lld x %lld | %.0f | %.0f | %.2fx |\n", s.what, (long long)s.m, (long long)s.n,
                (long long)s.k, flops / t_mm / 1e9, flops / t_gemm / 1e9, t_mm / t_gemm);
    if (matmul) {
      auto primitive = [&] {
        cpu_matmul(s.ta, s.tb, s.m, s.n, s.k, a.data_ptr<float>(), a.size(1), b.data_ptr<float>(), b.size(1), nullptr,
                   c.data_ptr<float>(), s.n);
      };
      // Timed after one untimed round: the first calls generate the primitive.
      auto time_warm = [&](auto f) {
        time(f);
        return time(f);
      };
      const double t_primitive = time_warm(primitive);
      std::string row = std::string("| ") + s.what + " | " + std::to_string(static_cast<int>(flops / t_gemm / 1e9)) +
                        " | " + std::to_string(static_cast<int>(flops / t_primitive / 1e9));
      if (std::string(s.what).rfind("fwd", 0) == 0) {  // y = x W^T + b
        auto bias = torch::randn({s.n});
        auto broadcast_then_gemm = [&] {
          c.copy_(bias.expand({s.m, s.n}));
          cpu_sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data_ptr<float>(), a.size(1), b.data_ptr<float>(), b.size(1),
                    1.0f, c.data_ptr<float>(), s.n);
        };
        auto primitive_bias = [&] {
          cpu_matmul(s.ta, s.tb, s.m, s.n, s.k, a.data_ptr<float>(), a.size(1), b.data_ptr<float>(), b.size(1),
                     bias.data_ptr<float>(), c.data_ptr<float>(), s.n);
        };
        const double t_bg = time_warm(broadcast_then_gemm), t_pb = time_warm(primitive_bias);
        row += " | " + std::to_string(static_cast<int>(flops / t_bg / 1e9)) + " | " +
               std::to_string(static_cast<int>(flops / t_pb / 1e9));
      } else {
        row += " | - | -";
      }
      matmul_rows.push_back(row + " |");
    }
    if (!layouts) continue;
    // The same product on each storage: A stored (m, k) or (k, m), B (k, n) or (n, k); then C^T.
    std::string row = std::string("| ") + s.what + " | " + (s.ta ? "T" : "N") + (s.tb ? "T" : "N");
    for (int variant = 0; variant < 5; ++variant) {
      const bool ta = variant & 1, tb = variant & 2, transposed_c = variant == 4;
      auto sa = ta ? torch::randn({s.k, s.m}) : torch::randn({s.m, s.k});
      auto sb = tb ? torch::randn({s.n, s.k}) : torch::randn({s.k, s.n});
      auto ct = torch::empty({s.n, s.m});
      auto run = [&] {
        if (transposed_c) {  // C^T (n x m) = op(B)^T op(A)^T with the model's own storage
          cpu_sgemm(!s.tb, !s.ta, s.n, s.m, s.k, 1.0f, b.data_ptr<float>(), b.size(1), a.data_ptr<float>(), a.size(1),
                    0.0f, ct.data_ptr<float>(), s.m);
        } else {
          cpu_sgemm(ta, tb, s.m, s.n, s.k, 1.0f, sa.data_ptr<float>(), sa.size(1), sb.data_ptr<float>(), sb.size(1),
                    0.0f, c.data_ptr<float>(), s.n);
        }
      };
      time(run);
      row += " | " + std::to_string(static_cast<int>(flops / time(run) / 1e9));
    }
    layout_rows.push_back(row + " |");
  }
  if (layouts) {
    std::printf("\n%s GFLOP/s by storage of A and B (N: as op() reads it, T: transposed)\n"
                "| product | model's | NN | TN | NT | TT | C^T |\n|---|---|---|---|---|---|---|\n",
                cpu_gemm_backend());
    for (const auto& r : layout_rows) std::printf("%s\n", r.c_str());
  }
  if (matmul) {
    std::printf("\nGFLOP/s on the model's storage: %s against oneDNN's matmul primitive, and with a bias\n"
                "| product | sgemm | matmul | sgemm + bias broadcast | matmul + bias |\n|---|---|---|---|---|\n",
                cpu_gemm_backend());
    for (const auto& r : matmul_rows) std::printf("%s\n", r.c_str());
  }
  return 0;
}
