// AdamW with decoupled weight decay over two parameter groups (decayed and exempt), and gradient
// clipping that never waits on the device.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "train/train_config.h"

namespace gptforge {

// What a parameter is, from its name: "embedding" (wte, wpe), "norm" (ln_*, *norm*), "bias" or "weight".
std::string param_kind(const std::string& name);

// libtorch's AdamW, with step() done in one pass over memory per parameter when the parameters are
// contiguous fp32 CPU tensors. libtorch's own step runs about ten separate elementwise ops per
// parameter (decay, two moment updates, sqrt, divide, add eps, addcdiv), each a full read and write:
// on a CPU the update is memory-bound, so one fused loop is several times faster. Same state, same
// checkpoint format, same math (up to fp32 rounding order); anything else falls back to libtorch.
class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// Group 0: parameters that decay; group 1: those whose kind is listed in train.no_decay.
std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& model, const TrainConfig& cfg);
void set_learning_rate(torch::optim::Optimizer& opt, double lr);

// The first AdamW state tensor (exp_avg, exp_avg_sq, max_exp_avg_sq) whose shape or dtype differs
// from its parameter's, described with the parameter's name in `model`; "" when all match. A loaded
// state must pass this before a step: the fused step writes through raw pointers of the sizes of the
// parameters.
std::string optimizer_state_mismatch(const torch::optim::Optimizer& opt, const torch::nn::Module& model);

// Drops the gradients (PyTorch's zero_grad(set_to_none=True)): the next backward writes fresh ones
// instead of adding into zero-filled buffers, which saves a pass over every gradient per step.
void clear_gradients(const std::vector<torch::Tensor>& params);

// Scales gradients so that their global L2 norm is at most max_norm (no-op scale when already
// below). Returns the norm before clipping as a 0-dim tensor, without synchronising the device.
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);
// The global gradient L2 norm as a 0-dim tensor.
torch::Tensor grad_norm(const std::vector<torch::Tensor>& params);

}  // namespace gptforge
