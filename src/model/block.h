// One pre-norm transformer block:
//   x = x + attn(ln_1(x))
//   x = x + mlp(ln_2(x))
// Parameters: ln_1.*, attn.{q,k,v,o}_proj.*, ln_2.*, mlp.* (see norm.h, attention.h, mlp.h).
#pragma once
#include <torch/torch.h>

#include "model/attention.h"
#include "model/mlp.h"
#include "model/norm.h"
#include "model/model_config.h"

namespace gptforge {

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const ModelConfig& cfg, int64_t layer);
  // (B, T, C) -> (B, T, C). With `probs`, also stores the attention probabilities (B, n_head, T, S).
  torch::Tensor forward(const torch::Tensor& x, const AttentionInputs& in, torch::Tensor* probs = nullptr);

  Norm ln_1{nullptr};
  Attention attn{nullptr};
  Norm ln_2{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(Block);

}  // namespace gptforge
