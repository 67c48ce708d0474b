// AdamW with decoupled weight decay over two parameter groups (decayed and exempt), and gradient
// clipping that never waits on the device.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "util/config.h"

namespace gptforge {

// What a parameter is, from its name: "embedding" (wte, wpe), "norm" (ln_*, *norm*), "bias" or "weight".
std::string param_kind(const std::string& name);

// Group 0: parameters that decay; group 1: those whose kind is listed in train.no_decay.
std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& model, const TrainConfig& cfg);
void set_learning_rate(torch::optim::Optimizer& opt, double lr);

// Scales gradients so that their global L2 norm is at most max_norm (no-op scale when already
// below). Returns the norm before clipping as a 0-dim tensor, without synchronising the device.
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);
// The global gradient L2 norm as a 0-dim tensor.
torch::Tensor grad_norm(const std::vector<torch::Tensor>& params);

}  // namespace gptforge
