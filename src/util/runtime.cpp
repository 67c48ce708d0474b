#include "util/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <vector>

#ifdef GPTFORGE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "util/cpu_allocator.h"
#include "util/cpu_gemm.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"

namespace gptforge {

int parallel_loop_threads(int64_t tasks) {
  std::vector<char> ran(static_cast<size_t>(std::max(1, at::get_num_threads())), 0);
  at::parallel_for(0, tasks, 1, [&](int64_t, int64_t) {
    const int tid = at::get_thread_num();
    if (tid >= 0 && tid < static_cast<int>(ran.size())) ran[static_cast<size_t>(tid)] = 1;
  });
  return static_cast<int>(std::count(ran.begin(), ran.end(), 1));
}

int effective_threads(const RunConfig& run) {
  if (run.threads > 0) return static_cast<int>(run.threads);
  // The processes of a distributed run on this machine (gptforge launch and torchrun set
  // LOCAL_WORLD_SIZE) share its cores.
  const char* local = std::getenv("LOCAL_WORLD_SIZE");
  int procs = local ? std::atoi(local) : 1;
  return std::max(1, hardware_threads() / std::max(1, procs));
}

void init_runtime(const RunConfig& run) {
  install_caching_cpu_allocator();
  set_log_level(run.log_level);
  torch::set_num_threads(effective_threads(run));
  torch::manual_seed(static_cast<uint64_t>(run.seed));
}

torch::Device resolve_device(Choice<DeviceChoice> device) {
  if (device == DeviceChoice::Cpu) return torch::kCPU;
  if (device == DeviceChoice::Cuda) {
    if (!torch::cuda::is_available()) {
      throw ConfigError("run.device=cuda, but this LibTorch sees no CUDA device; use run.device=cpu or auto");
    }
    return torch::Device(torch::kCUDA, 0);
  }
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
}

BlasInfo blas_info() {
  BlasInfo info;
  // The loaded BLAS shows up in our own memory map; resolve links (Debian's alternatives) to the file.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    std::string name = path.substr(path.rfind('/') + 1);
    if (name.rfind("libcublas", 0) == 0) continue;  // a CUDA build also maps cuBLAS: the CPU's BLAS is meant
    if (name.find("blas") != std::string::npos || name.find("mkl_rt") != std::string::npos) {
      info.library = path;
      break;
    }
  }
  using ConfigFn = char* (*)();
  if (auto fn = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    info.config = fn();
    info.is_openblas = true;
  }
  if (info.library.find("openblas") != std::string::npos) info.is_openblas = true;
  return info;
}

double measure_matmul_gflops(torch::Device device, torch::ScalarType dtype, int64_t n, int repeats) {
  torch::NoGradGuard no_grad;
  // A private generator: measuring must not move the global random stream (exact resume relies on it).
  auto gen = at::detail::createCPUGenerator(1234);
  auto cpu = torch::TensorOptions().dtype(torch::kFloat32);
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  auto a = at::randn({n, n}, gen, cpu).to(opts), b = at::randn({n, n}, gen, cpu).to(opts);
  auto c = torch::empty({n, n}, opts);
  auto sync = [&] { synchronize_device(device); };
  // Enough multiplications per timing that each lasts a few milliseconds even on a fast GPU.
  int inner = device.is_cuda() ? 50 : 1;
  for (int i = 0; i < 3; ++i) torch::mm_out(c, a, b);
  sync();
  std::vector<double> gflops;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inner; ++i) torch::mm_out(c, a, b);
    sync();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    gflops.push_back(2.0 * n * n * n * inner / s / 1e9);
  }
  // The model's fp32 CPU products may run on oneDNN instead (util/cpu_gemm.h): the peak is the
  // faster of the two, so that MFU is never taken against a slower product than the model's.
  if (!device.is_cuda() && dtype == torch::kFloat32 && onednn_gemm_enabled()) {
    cpu_sgemm(false, false, n, n, n, 1.0f, a.data_ptr<float>(), n, b.data_ptr<float>(), n, 0.0f, c.data_ptr<float>(), n);
    for (int r = 0; r < repeats; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      cpu_sgemm(false, false, n, n, n, 1.0f, a.data_ptr<float>(), n, b.data_ptr<float>(), n, 0.0f,
                c.data_ptr<float>(), n);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      gflops.push_back(2.0 * n * n * n / s / 1e9);
    }
  }
  // The products' packing buffers (oneDNN's, malloc'd and freed on every call) stay in the
  // allocator's free lists, and a 1024^3 product's are larger than the model's: handed back to the
  // system here, they do not add ~10 MB to a small model's peak memory.
  a = b = c = torch::Tensor();
  malloc_trim(0);
  return *std::max_element(gflops.begin(), gflops.end());
}

void synchronize_device(const torch::Device& device) {
#ifdef GPTFORGE_WITH_CUDA
  if (device.is_cuda()) torch::cuda::synchronize();
#else
  (void)device;
#endif
}

std::string device_description(torch::Device device) {
  if (device.is_cuda()) {
#ifdef GPTFORGE_WITH_CUDA
    auto* p = at::cuda::getDeviceProperties(device.index() < 0 ? 0 : device.index());
    return strprintf("CUDA %s, %.1f GiB", p->name, p->totalGlobalMem / double(1 << 30));
#else
    return "CUDA";
#endif
  }
  return strprintf("CPU (%d intra-op threads)", torch::get_num_threads());
}

}  // namespace gptforge
