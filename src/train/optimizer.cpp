#include "train/optimizer.h"

#include <algorithm>

namespace gptforge {

std::string param_kind(const std::string& name) {
  auto ends_with = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (name.rfind("wte.", 0) == 0 || name.rfind("wpe.", 0) == 0) return "embedding";
  if (name.find("ln_") != std::string::npos || name.find("norm") != std::string::npos) return "norm";
  if (ends_with(".bias")) return "bias";
  return "weight";
}

std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& model, const TrainConfig& cfg) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : model.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const std::string kind = param_kind(p.key());
    bool exempt = std::find(cfg.no_decay.begin(), cfg.no_decay.end(), kind) != cfg.no_decay.end();
    (exempt ? no_decay : decay).push_back(p.value());
  }
  auto opts = torch::optim::AdamWOptions(cfg.learning_rate)
                  .betas({cfg.beta1, cfg.beta2})
                  .eps(cfg.eps)
                  .weight_decay(cfg.weight_decay);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(opts));
  auto exempt_opts = std::make_unique<torch::optim::AdamWOptions>(opts);
  exempt_opts->weight_decay(0.0);
  groups.emplace_back(no_decay, std::move(exempt_opts));
  return std::make_unique<torch::optim::AdamW>(groups, opts);
}

void set_learning_rate(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
}

torch::Tensor grad_norm(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm(2).to(torch::kFloat32));
  }
  if (norms.empty()) return torch::zeros({});
  return torch::stack(norms).norm(2);
}

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  torch::Tensor total = grad_norm(params);
  if (max_norm <= 0) return total;
  // min(1, max_norm / norm) as a tensor: no host round-trip to decide whether to clip.
  torch::Tensor scale = (max_norm / (total + 1e-6)).clamp_max(1.0);
  for (const auto& p : params) {
    if (p.grad().defined()) p.grad().mul_(scale.to(p.grad().scalar_type()));
  }
  return total;
}

}  // namespace gptforge
