// Training checkpoints: the model artifact (checkpoint/checkpoint.h) plus the training state that
// only training reads and writes, so that a run resumes exactly:
//
//   <out_dir>/step_0000200/
//     model.safetensors, config.yaml, tokenizer.model, manifest.json   (the model artifact)
//     optimizer.pt          AdamW state (LibTorch archive)
//     trainer_state.json    step, tokens, every RNG state, the data loaders' states, best metric
#pragma once
#include <torch/torch.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "util/config.h"

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
  // A run bounded only by train.max_minutes: the steps it plans, estimated from its rate at its first
  // checkpoint and fixed from then on, so that --resume keeps its schedule (0: not fixed yet, or a run
  // bounded by steps or tokens).
  int64_t planned_steps = 0;
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
  torch::optim::Optimizer* optimizer = nullptr;  // may be null (tests of the model part)
  TrainerState state;
  const Config* config = nullptr;
  std::string tokenizer_model;  // serialized sentencepiece model bytes
};

// save_model with the training state as its extension (see checkpoint/checkpoint.h).
std::string save_checkpoint(const std::string& out_dir, const CheckpointContents& c, bool is_best,
                            int64_t keep_last);

// A checkpoint with its training state, when it has one (a model imported from elsewhere has none:
// it can start a run through train.init_from, not resume one).
struct LoadedCheckpoint : StoredModel {
  bool has_state = false;
  TrainerState state;          // step only, when !has_state
  std::string optimizer_path;  // "" when the checkpoint has no optimizer state
};
LoadedCheckpoint load_checkpoint(const std::string& path);

void load_optimizer(torch::optim::Optimizer& opt, const std::string& path);

// Torch generator states as hex strings, for exact resume.
std::string cpu_rng_state();
void set_cpu_rng_state(const std::string& hex);

}  // namespace gptforge
