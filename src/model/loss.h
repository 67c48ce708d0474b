// Language-model losses over logits (B, T, V) and targets (B, T) of token ids. Targets equal to
// ignore_index (prompt tokens in SFT, padding) carry no loss. lm_loss is cross_entropy (log_softmax
// + nll, fp32 under autocast). lm_loss_sum, the training loss, computes fp32 CPU logits with one
// softmax whose buffer becomes the gradient in the backward (fewer passes over the (N, V) logits than
// log_softmax + nll, see loss.cpp); other devices and dtypes use cross_entropy. Logits may also be
// (N, V) with targets (N): the rows the model's forward_rows returns.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace gptforge {

// Mean cross-entropy over the targets != ignore_index. NaN when every target is ignored; use
// lm_loss_sum where that can happen.
torch::Tensor lm_loss(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index = -1);

// Summed cross-entropy and the number of targets it covers, both 0-d tensors (count is int64), so
// masked SFT and evaluation can average over many batches exactly: total_sum / total_count.
struct LossSum {
  torch::Tensor sum;
  torch::Tensor count;
};
LossSum lm_loss_sum(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index = -1);

}  // namespace gptforge
