#include "model/norm.h"

namespace gptforge {

NormImpl::NormImpl(const ModelConfig& cfg, int64_t dim) : rms_(cfg.norm == NormType::RmsNorm), eps_(cfg.norm_eps), dim_(dim) {
  weight = register_parameter("weight", torch::ones({dim}));
  if (!rms_ && cfg.bias) bias = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  if (!rms_) {
    return torch::layer_norm(x, {dim_}, weight, bias.defined() ? c10::optional<torch::Tensor>(bias) : c10::nullopt,
                             eps_);
  }
  // x * rsqrt(mean(x^2) + eps), in fp32 for low-precision inputs.
  auto xf = x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble ? x : x.to(torch::kFloat);
  auto normed = xf * torch::rsqrt(xf.square().mean(-1, /*keepdim=*/true).add_(eps_));
  return weight * normed.to(x.scalar_type());
}

}  // namespace gptforge
