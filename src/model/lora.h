// LoRA (Hu et al., 2021, "Low-Rank Adaptation of Large Language Models"): a trained linear layer
// y = x W^T + b keeps W and b frozen and learns a low-rank update beside them,
//
//   y = x W^T + b + (alpha / r) · dropout(x) A^T B^T        A (r, in), B (out, r)
//
// A starts random (kaiming-uniform, as PEFT), B at zero, so an adapted model starts equal to its
// base. Merging folds the update into the weight, W' = W + (alpha / r) · B A (lora_delta), after
// which the layer is a plain linear again.
//
// An adapter sits in the module of the layer it adapts, registered as <layer>_lora: q_proj's is
// h.{i}.attn.q_proj_lora with parameters lora_A and lora_B. The base layers keep their names, so a
// base checkpoint loads into an adapted model unchanged.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/model_config.h"

namespace gptforge {

// (alpha / rank) · B A: what merging adds to the adapted weight, (out, in).
torch::Tensor lora_delta(const torch::Tensor& lora_A, const torch::Tensor& lora_B, double alpha, int64_t rank);

class LoRAImpl : public torch::nn::Module {
 public:
  // An adapter for `base`: its in and out features, on its device and in its dtype.
  LoRAImpl(const torch::nn::Linear& base, const LoraConfig& cfg);
  // The update alone: (..., in) -> (..., out).
  torch::Tensor forward(const torch::Tensor& x);
  // lora_delta of this adapter, (out, in).
  torch::Tensor delta() const;

  torch::Tensor lora_A, lora_B;  // (r, in), (out, r)

 private:
  double alpha_, dropout_;
  int64_t rank_;
};
TORCH_MODULE(LoRA);

// Whether cfg.targets names `target` ("q", "fc", ...).
bool lora_targets(const LoraConfig& cfg, const std::string& target);

// base(x), plus the adapter's update when the layer has one.
torch::Tensor adapted(torch::nn::Linear& base, LoRA& adapter, const torch::Tensor& x);

// The parameter name of an adapter's tensor: "h.3.attn.q_proj_lora.lora_A".
bool is_lora_parameter(const std::string& name);
// The adapted layer's weight for an adapter tensor: "h.3.attn.q_proj_lora.lora_A" -> "h.3.attn.q_proj.weight".
std::string lora_base_weight(const std::string& adapter_tensor);

}  // namespace gptforge
