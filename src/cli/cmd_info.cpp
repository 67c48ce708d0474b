// `gptforge info`: versions, device, threads, the active BLAS, the attention kernel and a matmul
// throughput measured now.
#include <torch/torch.h>

#include <cstdio>

#include "cli/app.h"
#include "model/attention.h"
#include "model/batched_matmul.h"
#include "util/cpu_gemm.h"
#include "util/log.h"
#include "util/runtime.h"

namespace gptforge::cli {

void register_info(CLI::App& app) {
  auto opts = std::make_shared<CommonOptions>();
  auto* cmd = app.add_subcommand("info", "Versions, device, threads, BLAS and measured matmul GFLOP/s");
  add_common_options(cmd, *opts);
  cmd->callback([opts] {
    Config cfg = load_command_config(*opts);
    torch::Device device = resolve_device(cfg.run.device);
    BlasInfo blas = blas_info();
    std::printf("gptforge      %s\n", GPTFORGE_VERSION);
    std::printf("libtorch      %d.%d.%d%s\n", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH,
                torch::cuda::is_available() ? " (CUDA)" : "");
    std::printf("sentencepiece %s (%s)\n", GPTFORGE_SENTENCEPIECE_VERSION, GPTFORGE_SENTENCEPIECE_LINK);
    std::printf("yaml-cpp      %s\n", GPTFORGE_YAMLCPP_VERSION);
#ifdef GPTFORGE_WITH_CUDA
    std::printf("cuda build    yes (CUDA kernels, NCCL where LibTorch has it)\n");
#else
    std::printf("cuda build    no (CPU only)\n");
#endif
    std::printf("device        %s\n", device_description(device).c_str());
    std::printf("cuda devices  %d\n", static_cast<int>(torch::cuda::device_count()));
    std::printf("threads       %d intra-op (run.threads=%lld), gptforge's parallel loops on %d\n", torch::get_num_threads(),
                static_cast<long long>(cfg.run.threads), parallel_loop_threads());
    std::printf("blas          %s%s\n", blas.is_openblas ? "OpenBLAS " : "",
                blas.library.empty() ? "(none loaded)" : blas.library.c_str());
    if (!blas.config.empty()) std::printf("blas config   %s\n", blas.config.c_str());
    std::printf("cpu products  %s (the model's fp32 linear layers and their gradients)\n", cpu_gemm_backend());
    std::printf("attention     %s (CPU batched matmuls: %s)\n", attention_kernel_name(), batched_matmul_backend());
    if (!blas.is_openblas && !device.is_cuda()) {
      log_warn("the active BLAS is not OpenBLAS: CPU training will be ~30x slower (scripts/setup.sh installs it)");
    }
    std::printf("matmul fp32   %.1f GFLOP/s (1024x1024, %s)\n",
                measure_matmul_gflops(torch::kCPU, torch::kFloat32, 1024), "CPU");
    if (device.is_cuda()) {
      std::printf("matmul fp32   %.1f GFLOP/s (4096x4096, CUDA)\n",
                  measure_matmul_gflops(device, torch::kFloat32, 4096));
      std::printf("matmul bf16   %.1f GFLOP/s (4096x4096, CUDA)\n",
                  measure_matmul_gflops(device, torch::kBFloat16, 4096));
    }
  });
}

}  // namespace gptforge::cli
