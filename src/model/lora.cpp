#include "model/lora.h"

#include <algorithm>
#include <cmath>

#include "model/linear.h"
#include "util/strings.h"

namespace gptforge {

torch::Tensor lora_delta(const torch::Tensor& lora_A, const torch::Tensor& lora_B, double alpha, int64_t rank) {
  return (alpha / static_cast<double>(rank)) * torch::mm(lora_B, lora_A);
}

LoRAImpl::LoRAImpl(const torch::nn::Linear& base, const LoraConfig& cfg)
    : alpha_(cfg.alpha), dropout_(cfg.dropout), rank_(cfg.rank) {
  const auto& w = base->weight;  // (out, in)
  lora_A = register_parameter("lora_A", torch::empty({rank_, w.size(1)}, w.options()));
  lora_B = register_parameter("lora_B", torch::zeros({w.size(0), rank_}, w.options()));
  // PEFT's init: A as torch.nn.Linear's default (kaiming-uniform, a = sqrt(5)), B zero.
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(lora_A, std::sqrt(5.0));
}

torch::Tensor LoRAImpl::forward(const torch::Tensor& x) {
  auto h = dropout_ > 0 ? torch::dropout(x, dropout_, is_training()) : x;
  // (..., in) -> (..., r) -> (..., out): never the (out, in) product.
  return torch::nn::functional::linear(torch::nn::functional::linear(h, lora_A), lora_B) *
         (alpha_ / static_cast<double>(rank_));
}

torch::Tensor LoRAImpl::delta() const { return lora_delta(lora_A, lora_B, alpha_, rank_); }

bool lora_targets(const LoraConfig& cfg, const std::string& target) {
  return std::find(cfg.targets.begin(), cfg.targets.end(), target) != cfg.targets.end();
}

torch::Tensor adapted(torch::nn::Linear& base, LoRA& adapter, const torch::Tensor& x) {
  auto y = dense(x, base->weight, base->bias);
  return adapter ? y + adapter(x) : y;
}

namespace {
const std::string kLoraSuffixA = "_lora.lora_A", kLoraSuffixB = "_lora.lora_B";

}  // namespace

bool is_lora_parameter(const std::string& name) { return ends_with(name, kLoraSuffixA) || ends_with(name, kLoraSuffixB); }

std::string lora_base_weight(const std::string& adapter_tensor) {
  return adapter_tensor.substr(0, adapter_tensor.size() - kLoraSuffixA.size()) + ".weight";
}

}  // namespace gptforge
