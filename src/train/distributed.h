// Data-parallel training across processes on PyTorch's own distributed engine (c10d).
//
// Every process (a "rank") holds a full replica of the model and reads its own share of the data.
// After backward the ranks sum their gradients, so every replica takes the same optimiser step.
// Rendezvous goes through c10d's TCPStore served by rank 0 at MASTER_ADDR:MASTER_PORT; collectives
// run on ProcessGroupGloo on the CPU, and on ProcessGroupNCCL for CUDA tensors when LibTorch has it.
//
// The process learns its place from the environment that `gptforge launch`, torchrun or a Slurm
// wrapper sets:
//   RANK, WORLD_SIZE         this process's index and the number of processes (all machines)
//   LOCAL_RANK               index among the processes on this machine (picks the GPU)
//   MASTER_ADDR, MASTER_PORT where rank 0 listens for the rendezvous
// Without WORLD_SIZE (or with WORLD_SIZE=1) there is one process and no process group at all:
// every collective below returns at once.
//
// Every collective waits at most run.dist_timeout seconds; a peer that died, hangs or never
// arrived turns into a RunError naming the operation, instead of a hang.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "util/run_config.h"

namespace gptforge {

// Where this process stands in a run, as the environment describes it.
struct DistEnv {
  int rank = 0, world_size = 1, local_rank = 0, local_world_size = 1;
  std::string master_addr;
  int master_port = 0;
};

// Reads RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT through
// `getenv` (std::getenv by default). Unset WORLD_SIZE means one process. A malformed or
// inconsistent value is a UsageError naming the variable.
DistEnv read_dist_env(const std::function<const char*(const char*)>& getenv = nullptr);

class Distributed {
 public:
  // One process: rank 0 of 1, no process group.
  Distributed();
  // Joins the run `env` describes (rendezvous at MASTER_ADDR:MASTER_PORT, then the process group)
  // and fails with a RunError when that takes longer than `timeout`. Tensors live on `device`:
  // NCCL for CUDA (when built with it), Gloo otherwise. bucket_bytes caps a gradient bucket.
  Distributed(const DistEnv& env, torch::Device device, std::chrono::milliseconds timeout,
              int64_t bucket_bytes = 25 << 20);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  // From the environment and run.device / run.dist_timeout: the single-process context when
  // WORLD_SIZE is unset or 1. With CUDA, rank r uses GPU LOCAL_RANK.
  static std::shared_ptr<Distributed> from_environment(const RunConfig& run);

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  bool active() const { return env_.world_size > 1; }
  // The device collectives use: the GPU of LOCAL_RANK with NCCL, the CPU with Gloo.
  torch::Device device() const { return device_; }
  std::string backend() const;  // "none", "gloo" or "nccl"

  // Copies rank 0's values into every rank's tensors (parameters, buffers): replicas start equal.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  // Sums the gradients of `params` over the ranks (divides by the world size too when `average`),
  // flattened into buckets of at most bucket_bytes so each collective moves a large message. Every
  // rank must pass the same parameters in the same order; an undefined gradient counts as zeros.
  void all_reduce_gradients(const std::vector<torch::Tensor>& params, bool average = false);
  // Sums a tensor over the ranks in place (max_ with the element-wise maximum).
  void all_reduce_sum(torch::Tensor& t);
  void all_reduce_max(torch::Tensor& t);
  // Scalar conveniences: the sum over ranks, and whether any rank's flag is set.
  double sum(double v);
  int64_t sum(int64_t v);
  bool any(bool flag);
  // Every rank's string, indexed by rank, on every rank.
  std::vector<std::string> all_gather(const std::string& mine);
  // Returns once every rank has called it.
  void barrier();

 private:
  struct Impl;
  DistEnv env_;
  torch::Device device_ = torch::kCPU;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gptforge
