#include "model/loss.h"

namespace gptforge {
namespace {

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index,
                            torch::nn::functional::CrossEntropyFuncOptions::reduction_t reduction) {
  const int64_t vocab = logits.size(-1);
  return torch::nn::functional::cross_entropy(
      logits.reshape({-1, vocab}), targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(ignore_index).reduction(reduction));
}

}  // namespace

torch::Tensor lm_loss(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index) {
  return cross_entropy(logits, targets, ignore_index, torch::kMean);
}

LossSum lm_loss_sum(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index) {
  return {cross_entropy(logits, targets, ignore_index, torch::kSum), targets.ne(ignore_index).sum()};
}

}  // namespace gptforge
