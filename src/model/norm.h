// Normalisation layers, chosen by model.norm:
//   layernorm: (x - mean) / sqrt(var + eps) * weight + bias   (bias only with model.bias)
//   rmsnorm:   x / sqrt(mean(x^2) + eps) * weight             (never a bias, as Llama)
// Parameters: `weight` (C) and, for a LayerNorm with bias, `bias` (C). Weight starts at ones, bias at
// zeros. RMSNorm computes in fp32 and casts back, as Hugging Face's LlamaRMSNorm does.
#pragma once
#include <torch/torch.h>

#include <string>

#include "model/model_config.h"

namespace gptforge {

class NormImpl : public torch::nn::Module {
 public:
  NormImpl(const ModelConfig& cfg, int64_t dim);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;
  torch::Tensor bias;  // undefined unless a LayerNorm with bias

 private:
  bool rms_;
  double eps_;
  int64_t dim_;
};
TORCH_MODULE(Norm);

}  // namespace gptforge
