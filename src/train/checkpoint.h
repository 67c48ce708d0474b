// Checkpoints: one directory per save, written atomically, readable without gptforge.
//
//   <out_dir>/step_0000200/
//     model.safetensors     weights under the model's parameter names (tied weights stored once)
//     optimizer.pt          AdamW state (LibTorch archive)
//     trainer_state.json    step, tokens, every RNG state, the data loaders' states, best metric
//     config.yaml           the resolved config of the run
//     tokenizer.model       the sentencepiece model the run was trained with
//     manifest.json         size and FNV-1a checksum of every file above: truncation and corruption
//                           are caught on load
//   <out_dir>/latest -> step_0000200     (symlinks, replaced atomically)
//   <out_dir>/best   -> step_0000150
//
// A save goes to a hidden temporary directory that is fsynced and renamed into place, so a kill at
// any moment leaves the previous checkpoint intact; older ones are pruned only afterwards.
#pragma once
#include <torch/torch.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/config.h"
#include "util/safetensors.h"

namespace gptforge {

struct TrainerState {
  std::string kind = "pretrain";  // pretrain | sft
  int64_t step = 0;               // optimiser steps completed
  int64_t tokens = 0;             // training tokens consumed (all ranks)
  double elapsed_s = 0;           // wall-clock time of the run so far
  double best_val_loss = std::numeric_limits<double>::infinity();
  int64_t best_step = -1;
  int64_t evals_since_best = 0;
  int64_t skipped_steps = 0;      // non-finite losses skipped over the whole run
  int64_t world_size = 1;
  std::vector<std::string> loader_states;  // one per rank
  std::string rng_cpu;                     // torch CPU generator state, hex (rank 0's)
  std::vector<std::string> rng_cpu_ranks;  // every rank's, when world_size > 1 (dropout differs per rank)
  std::string rng_cuda;                    // torch CUDA generator state, hex ("" without CUDA)

  nlohmann::json to_json() const;
  static TrainerState from_json(const nlohmann::json& j);
};

struct CheckpointContents {
  torch::nn::Module* model = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;  // may be null (exports, imports)
  TrainerState state;
  const Config* config = nullptr;
  std::string tokenizer_model;  // serialized sentencepiece model bytes
};

// Writes <out_dir>/step_<step>, points `latest` (and `best` when is_best) at it, then prunes older
// checkpoints beyond keep_last (never the best). Returns the checkpoint directory.
std::string save_checkpoint(const std::string& out_dir, const CheckpointContents& c, bool is_best,
                            int64_t keep_last);

// A checkpoint directory, or a run directory (its `latest`). Throws CheckpointError otherwise.
std::string resolve_checkpoint(const std::string& path);
// True when out_dir holds a `latest` checkpoint.
bool has_checkpoint(const std::string& out_dir);

struct LoadedCheckpoint {
  std::string dir;
  Config config;
  SafetensorsFile weights;
  std::string tokenizer_model;
  TrainerState state;
  std::string optimizer_path;  // "" when the checkpoint has no optimizer state
};
// Verifies the manifest (every file present, sizes and checksums), then reads the checkpoint.
LoadedCheckpoint load_checkpoint(const std::string& path);

// Copies weights into the model's parameters. Every parameter must be present with its shape; an
// extra or missing tensor is a CheckpointError naming the file and the tensor.
void load_weights(torch::nn::Module& model, const SafetensorsFile& weights, const std::string& file);
void load_optimizer(torch::optim::Optimizer& opt, const std::string& path);
// The model's parameters in save order.
std::vector<std::pair<std::string, torch::Tensor>> model_tensors(torch::nn::Module& model);

// Torch generator states as hex strings, for exact resume.
std::string cpu_rng_state();
void set_cpu_rng_state(const std::string& hex);

}  // namespace gptforge
