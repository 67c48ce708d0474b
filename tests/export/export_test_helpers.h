// Tiny real checkpoints for the export tests: a GPT of a given family with every parameter
// perturbed (biases and norm weights too, so a slip in any mapping shows in the numbers), saved by
// save_checkpoint with the tiny BPE tokenizer (vocab 400, chat tokens included).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/gpt.h"
#include "test_helpers.h"
#include "tokenizer/tiny_corpus.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "util/config.h"
#include "util/files.h"

namespace gptforge::testing {

// Overrides for a tiny model of `family` on top of the shared sizes.
inline Config tiny_export_config(const std::vector<std::string>& overrides) {
  std::vector<std::string> all = {"model.vocab_size=400", "model.block_size=32", "model.n_layer=2",
                                  "model.n_head=4", "model.d_model=32", "run.log_level=quiet"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  return load_config("", all);
}

// A model of cfg.model with seeded, perturbed weights.
inline GPT tiny_model(const ModelConfig& m, uint64_t seed = 7) {
  torch::manual_seed(seed);
  GPT model(m);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * 0.1);
  model->eval();
  return model;
}

// Saves a checkpoint of `model` under run_dir and returns the checkpoint directory.
inline std::string save_tiny_checkpoint(const std::string& run_dir, GPT& model, const Config& cfg) {
  CheckpointContents c;
  c.model = model.get();
  c.config = &cfg;
  c.state.step = 10;
  c.state.loader_states = {"0"};
  c.state.rng_cpu = cpu_rng_state();
  c.tokenizer_model = read_file(tiny_tokenizer());
  return save_checkpoint(run_dir, c, false, 1);
}

// Logits of a fixed input (B=2, T=12) through `model`.
inline torch::Tensor probe_logits(GPT& model) {
  torch::NoGradGuard no_grad;
  model->eval();
  auto idx = (torch::arange(24, torch::kInt64).reshape({2, 12}) * 37 + 5) % model->config().vocab_size;
  return model->forward(idx);
}

// A model loaded from a checkpoint directory.
inline GPT load_model(const std::string& checkpoint) {
  LoadedCheckpoint ck = load_checkpoint(checkpoint);
  GPT model(ck.config.model);
  load_weights(*model, ck.weights, ck.dir);
  model->eval();
  return model;
}

// The option sets of the model families the tests cover.
inline std::vector<std::string> gpt2_overrides() { return {"model.family=gpt2"}; }
inline std::vector<std::string> llama_overrides() {
  return {"model.family=llama", "model.n_kv_head=2", "model.tie_embeddings=false", "model.rope_theta=500"};
}
inline std::vector<std::string> llama_tied_overrides() { return {"model.family=llama", "model.tie_embeddings=true"}; }

}  // namespace gptforge::testing
