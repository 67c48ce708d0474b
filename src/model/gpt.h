// The GPT model: start here. This header is the contract between the model and everything that
// uses it (trainer, sampler, checkpoints, exporters).
//
// What it computes, for token ids idx (B, T) with T <= block_size:
//
//   x = wte[idx] + positions            learned: wpe[pos]; sinusoidal: fixed sin/cos table;
//                                       rope: nothing here (q/k are rotated in attention); none
//   x = dropout(x)
//   for each block h[i]:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))      (block.h)
//   logits = lm_head(ln_f(x))           (B, T, vocab_size); with tie_embeddings: x wte^T
//
// Every architectural choice comes from ModelConfig (util/config.h), already checked by
// validate_config; vocab_size must be filled in (> 0) before building. Submodules: norm.h,
// attention.h (MHA / GQA / MQA, causal, kernels), rope.h, mlp.h, block.h; kv_cache.h for
// incremental decoding; loss.h for the LM loss; accounting.h for parameter and FLOP counts.
//
// Parameter names (named_parameters(); checkpoints and exporters rely on them, linear weights in
// torch's (out, in) layout):
//   wte.weight                      (vocab_size, d_model)
//   wpe.weight                      (block_size, d_model)            only with position = learned
//   h.{i}.ln_1.weight / .bias       (d_model)                         bias: layernorm with bias only
//   h.{i}.attn.q_proj.weight/.bias  (n_head*head_dim, d_model)        bias: with model.bias
//   h.{i}.attn.k_proj.weight/.bias  (n_kv_head*head_dim, d_model)
//   h.{i}.attn.v_proj.weight/.bias  (n_kv_head*head_dim, d_model)
//   h.{i}.attn.o_proj.weight/.bias  (d_model, n_head*head_dim)
//   h.{i}.ln_2.weight / .bias
//   h.{i}.mlp.fc.weight/.bias       (hidden, d_model)   \  gelu, relu, relu2
//   h.{i}.mlp.proj.weight/.bias     (d_model, hidden)   /
//   h.{i}.mlp.gate.*, .up.* (hidden, d_model), .down.* (d_model, hidden)     swiglu
//   ln_f.weight / .bias
//   lm_head.weight                  (vocab_size, d_model)             only when NOT tied
// Buffers (named_buffers(), derived from the config, never trained; they follow model->to()):
// rope_cos / rope_sin (block_size, head_dim/2) with RoPE, pos_table (block_size, d_model) with
// sinusoidal positions. The causal mask, (block_size, block_size) bool, true above the diagonal, is a
// plain member moved to the weights' device on first use, since Module::to(dtype) would cast a
// registered bool buffer (none when block_size > 8192: the kernels build the slice they need).
//
// Initialisation (GPT-2): weights of linear layers and embeddings ~ N(0, init_std), the residual
// output projections (attn.o_proj, mlp.proj, mlp.down) ~ N(0, init_std / sqrt(2 n_layer)), biases 0,
// norm weights 1. Draws from torch's default generator: the caller seeds (torch::manual_seed).
//
// Dropout (model.dropout) acts on the embedding output, the attention probabilities and both
// residual branches, only in train() mode. Works after model->to(device / dtype) and under CUDA
// autocast: buffers follow the module and are cast to the activations' dtype where used.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/accounting.h"
#include "model/block.h"
#include "model/kv_cache.h"
#include "model/lora.h"
#include "model/loss.h"
#include "model/norm.h"
#include "model/slot_kv_cache.h"
#include "model/model_config.h"

namespace gptforge {

// What forward_inspect returns. Vectors are empty unless asked for.
struct ForwardResult {
  torch::Tensor logits;                   // (B, T, vocab_size)
  std::vector<torch::Tensor> residuals;   // n_layer + 1 of (B, T, d_model): embedding output, then the
                                          // residual stream after block 0, ..., after block n_layer-1
  std::vector<torch::Tensor> attentions;  // n_layer of (B, n_head, T, T): attention probabilities
};

class GPTImpl : public torch::nn::Module {
 public:
  // Builds and initialises the model. Throws ConfigError when cfg.vocab_size <= 0.
  explicit GPTImpl(const ModelConfig& cfg);

  // Full pass: idx (B, T) int64 token ids, T <= block_size -> logits (B, T, vocab_size).
  // Throws RunError for T > block_size or a malformed idx.
  torch::Tensor forward(const torch::Tensor& idx);

  // The logits of selected positions only: rows are indices into the flattened (B*T) positions,
  // the result (rows, vocab_size) equals forward(idx).view({-1, vocab_size}).index_select(0, rows).
  // Training uses it when most positions carry no loss (SFT's prompts and padding): the LM head,
  // a vocab-sized matmul per position, then runs only where a target is.
  torch::Tensor forward_rows(const torch::Tensor& idx, const torch::Tensor& rows);

  // Incremental decoding: idx (B, T) are the tokens at positions [cache.length(), cache.length() + T);
  // their keys/values are appended to the cache and the logits (B, T, vocab_size) returned. Equals
  // the matching rows of forward() on the whole sequence. Runs without autograd. Throws RunError
  // when the cache would exceed block_size or its batch differs.
  torch::Tensor forward_cached(const torch::Tensor& idx, KVCache& cache);
  // An empty cache for `batch` sequences on the model's device, in the model's parameter dtype
  // unless `dtype` is given. Remake it after moving the model.
  KVCache make_cache(int64_t batch, c10::optional<torch::Dtype> dtype = c10::nullopt) const;

  // Continuous batching (the server): row b of idx (B, 1) is the next token of the sequence held in
  // slot b of `slots` (B <= slots.slots()), at that slot's own position slots.length(b); the rows
  // may have different lengths. Each row attends to its own cached keys only (slot_kv_cache.h masks
  // the rest). Appends the keys/values, advances each of the B slots by one and returns the logits
  // (B, 1, vocab_size), equal to forward_cached of each row alone. Runs without autograd. Throws
  // RunError when a slot is full (block_size positions).
  torch::Tensor forward_slots(const torch::Tensor& idx, SlotKVCache& slots);
  // A cache of `slots` empty slots of block_size positions, on the model's device and dtype.
  SlotKVCache make_slot_cache(int64_t slots) const;

  // forward() that also returns the residual stream and/or attention probabilities (see
  // ForwardResult). Asking for attention uses the explicit attention kernel. forward() itself pays
  // nothing for this.
  ForwardResult forward_inspect(const torch::Tensor& idx, bool residuals, bool attention);
  // Logit lens: lm_head(ln_f(residual)), residual (..., d_model) -> (..., vocab_size). On the last
  // residual of forward_inspect it gives the logits.
  torch::Tensor lens(const torch::Tensor& residual);

  // LoRA fine-tuning (lora.h): freezes every parameter of the model, then gives the layers named in
  // cfg.targets of every block a trainable adapter (on the weights' device and dtype). Draws A from
  // torch's default generator. Call after loading the base weights' checkpoint, if any: the
  // adapters' tensors are not part of the base checkpoint (see lora_parameters).
  void add_lora(const LoraConfig& cfg);
  // The adapters' parameters (name, tensor), empty without add_lora.
  std::vector<std::pair<std::string, torch::Tensor>> lora_parameters();

  // count_params(config(), include_embeddings) (accounting.h).
  int64_t num_params(bool include_embeddings = true) const;
  const ModelConfig& config() const { return cfg_; }

  torch::nn::Embedding wte{nullptr};
  torch::nn::Embedding wpe{nullptr};  // position = learned only
  torch::nn::ModuleList h{nullptr};
  Norm ln_f{nullptr};
  torch::nn::Linear lm_head{nullptr};  // untied only

 private:
  // The shared body of the forward variants; cache and inspect may be null. Without apply_head it
  // returns the last residual stream (B, T, d_model).
  torch::Tensor run(const torch::Tensor& idx, KVCache* cache, ForwardResult* inspect, bool residuals,
                    bool attention, bool apply_head = true, SlotKVCache* slots = nullptr);
  // ln_f + LM head.
  torch::Tensor head(const torch::Tensor& x);
  void init_weights();

  ModelConfig cfg_;
  std::vector<Block> blocks_;  // the modules of h, typed
  torch::Tensor rope_cos_, rope_sin_, pos_table_;  // registered buffers
  torch::Tensor causal_mask_;                       // not registered, see above
};
TORCH_MODULE(GPT);

}  // namespace gptforge
