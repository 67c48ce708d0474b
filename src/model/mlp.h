// The feed-forward half of a block, chosen by model.activation (F = model hidden_size()):
//   gelu, relu, relu2:  proj(act(fc(x)))            fc (F, C), proj (C, F)
//   swiglu:             down(silu(gate(x)) * up(x))  gate, up (F, C), down (C, F)   (as Llama)
// gelu is the tanh approximation (GPT-2's gelu_new); relu2 is relu(x)^2. The output goes through
// residual dropout. Biases (out) with model.bias.
#pragma once
#include <torch/torch.h>

#include "model/lora.h"
#include "model/model_config.h"

namespace gptforge {

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const ModelConfig& cfg);
  // (B, T, C) -> (B, T, C)
  torch::Tensor forward(const torch::Tensor& x);

  // Gives the layers named in cfg.targets (fc, proj, gate, up, down) a LoRA adapter (lora.h).
  void add_lora(const LoraConfig& cfg);

  // fc/proj without gating, gate/up/down with swiglu; the others stay empty.
  torch::nn::Linear fc{nullptr}, proj{nullptr};
  torch::nn::Linear gate{nullptr}, up{nullptr}, down{nullptr};
  // Set by add_lora only.
  LoRA fc_lora{nullptr}, proj_lora{nullptr}, gate_lora{nullptr}, up_lora{nullptr}, down_lora{nullptr};

 private:
  Activation act_;
  double dropout_;
};
TORCH_MODULE(MLP);

}  // namespace gptforge
