// Process-wide runtime setup and facts about the machine: thread count, device, BLAS library and
// the measured matmul throughput that MFU figures are taken against.
#pragma once
#include <torch/torch.h>

#include <string>

#include "util/run_config.h"

namespace gptforge {

// Threads the run will use: run.threads, or when 0 every core, divided among the LOCAL_WORLD_SIZE
// processes of a distributed run on this machine.
int effective_threads(const RunConfig& run);
// Sets LibTorch's intra-op threads (this LibTorch starts with one), the log level and the seeds.
void init_runtime(const RunConfig& run);
// Threads one at::parallel_for over `tasks` tasks (one per thread) ran on. LibTorch's parallel_for is
// inline code that runs in parallel only in files compiled with OpenMP (CMakeLists.txt); this says
// whether ours are, for the tests and `gptforge info`.
int parallel_loop_threads(int64_t tasks = 64);
// run.device resolved: auto picks CUDA when present. Asking for cuda without it is a ConfigError.
torch::Device resolve_device(Choice<DeviceChoice> device);

// Path of the BLAS shared library this process loaded, and OpenBLAS's own description of itself
// when it is OpenBLAS ("" when the BLAS does not say).
struct BlasInfo {
  std::string library;
  std::string config;
  bool is_openblas = false;
};
BlasInfo blas_info();

// Measured dense matmul throughput in GFLOP/s for n x n matrices of `dtype` on `device`: the best of
// repeated timings after a warm-up. The best, not the median: a peak that MFU is measured against
// must not be lowered by a moment of contention (seen: MFU of 106% and 163% against medians).
double measure_matmul_gflops(torch::Device device, torch::ScalarType dtype, int64_t n = 1024, int repeats = 7);

// Waits for the device's queued work (CUDA); nothing on the CPU. For timings.
void synchronize_device(const torch::Device& device);

// Human-readable device name ("CPU (2 threads)", "NVIDIA H100 80GB HBM3, 79.1 GiB").
std::string device_description(torch::Device device);

}  // namespace gptforge
