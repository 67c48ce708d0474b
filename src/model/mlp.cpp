#include "model/mlp.h"

#include "model/fused_ops.h"

namespace gptforge {

MLPImpl::MLPImpl(const ModelConfig& cfg) : dropout_(cfg.dropout) {
  act_ = cfg.activation;
  const int64_t c = cfg.d_model, f = cfg.hidden_size();
  auto linear = [&](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(cfg.bias));
  };
  if (act_ == Activation::SwiGlu) {
    gate = register_module("gate", linear(c, f));
    up = register_module("up", linear(c, f));
    down = register_module("down", linear(f, c));
  } else {
    fc = register_module("fc", linear(c, f));
    proj = register_module("proj", linear(f, c));
  }
}

void MLPImpl::add_lora(const LoraConfig& cfg) {
  // Only the layers this activation built: the config check (validate_config) refuses the others.
  auto add = [&](const char* target, torch::nn::Linear& base, LoRA& adapter) {
    if (base && lora_targets(cfg, target)) adapter = register_module(std::string(target) + "_lora", LoRA(base, cfg));
  };
  add("fc", fc, fc_lora);
  add("proj", proj, proj_lora);
  add("gate", gate, gate_lora);
  add("up", up, up_lora);
  add("down", down, down_lora);
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  torch::Tensor y;
  switch (act_) {
    case Activation::SwiGlu:
      y = adapted(down, down_lora, torch::silu(adapted(gate, gate_lora, x)) * adapted(up, up_lora, x));
      break;
    case Activation::Gelu: {
      auto h = adapted(fc, fc_lora, x);
      y = adapted(proj, proj_lora, fused_gelu_enabled() && fused_gelu_supports(h) ? fused_gelu_tanh(h) : torch::gelu(h, "tanh"));
      break;
    }
    // relu's backward needs only its output, so it may overwrite fc's output in place.
    case Activation::Relu: y = adapted(proj, proj_lora, adapted(fc, fc_lora, x).relu_()); break;
    case Activation::Relu2: y = adapted(proj, proj_lora, adapted(fc, fc_lora, x).relu_().square()); break;
  }
  if (is_training() && dropout_ > 0) y = torch::dropout(y, dropout_, /*train=*/true);
  return y;
}

}  // namespace gptforge
