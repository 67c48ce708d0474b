#include "model/block.h"

namespace gptforge {

BlockImpl::BlockImpl(const ModelConfig& cfg, int64_t layer) {
  ln_1 = register_module("ln_1", Norm(cfg, cfg.d_model));
  attn = register_module("attn", Attention(cfg, layer));
  ln_2 = register_module("ln_2", Norm(cfg, cfg.d_model));
  mlp = register_module("mlp", MLP(cfg));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const AttentionInputs& in, torch::Tensor* probs) {
  auto h = x + attn->forward(ln_1(x), in, probs);
  return h + mlp(ln_2(h));
}

}  // namespace gptforge
