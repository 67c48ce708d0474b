// Language-model losses over logits (B, T, V) and targets (B, T) of token ids. Targets equal to
// ignore_index (prompt tokens in SFT, padding) carry no loss. Both use cross_entropy directly
// (log_softmax + nll in one op, computed in fp32 under autocast) on a view of the logits: no copy.
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
