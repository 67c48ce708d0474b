#include "model/loss.h"

#include <limits>
#include <string>

#include "util/errors.h"

namespace gptforge {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Summed cross-entropy over rows of fp32 CPU logits, with the softmax computed once and reused for
// the gradient. cross_entropy's own backward goes log_softmax -> nll: it writes a zero-filled
// (N, V) gradient for nll, then reads it and the saved log-probabilities back and exponentiates
// them again to write the logits' gradient. Over a large vocabulary that is several passes over
// N*V floats that the model does nothing with. Here the forward keeps the probabilities p, and the
// backward turns them in place into g * (p - onehot): one pass.
struct SoftmaxCrossEntropy : public torch::autograd::Function<SoftmaxCrossEntropy> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits, const torch::Tensor& targets,
                               int64_t ignore_index) {
    torch::Tensor probs = torch::softmax(logits, -1);
    torch::Tensor valid = targets.ne(ignore_index);
    torch::Tensor safe_targets = targets.masked_fill(valid.logical_not(), 0);
    // -log p[target]; where p underflowed to 0 (a confident miss), the exact lse - logit instead.
    torch::Tensor nll = -probs.gather(1, safe_targets.unsqueeze(1)).squeeze(1).log();
    torch::Tensor underflow = (nll.isinf() & valid).nonzero().squeeze(1);
    if (underflow.numel() > 0) {
      torch::Tensor rows = logits.index_select(0, underflow);
      nll.index_put_({underflow},
                     rows.logsumexp(-1) - rows.gather(1, safe_targets.index_select(0, underflow).unsqueeze(1)).squeeze(1));
    }
    // probs is kept outside save_for_backward: the backward overwrites it, which the saved-variable
    // version check would refuse.
    ctx->saved_data["probs"] = probs;
    ctx->save_for_backward({safe_targets, valid});
    return nll.masked_fill(valid.logical_not(), 0.0).sum();
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    torch::Tensor targets = saved[0], valid = saved[1];
    // The probabilities become the gradient in place, so a second backward through the same graph
    // (retain_graph) has nothing left to start from: refuse it rather than return a wrong gradient.
    if (!ctx->saved_data.count("probs")) {
      throw RunError("lm_loss_sum: a second backward through the same CPU loss (retain_graph) is not supported");
    }
    torch::Tensor probs = ctx->saved_data["probs"].toTensor();
    ctx->saved_data.erase("probs");
    torch::Tensor g = grad_outputs[0];
    torch::Tensor row_scale = valid.to(probs.scalar_type()).mul_(g).unsqueeze(1);  // (N, 1): g, or 0 if ignored
    torch::Tensor grad = probs.mul_(row_scale);
    grad.scatter_add_(1, targets.unsqueeze(1), row_scale.neg());
    return {grad, torch::Tensor(), torch::Tensor()};
  }
};

bool use_fused(const torch::Tensor& logits) {
  return logits.device().is_cpu() && logits.scalar_type() == torch::kFloat && logits.is_contiguous();
}

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index,
                            torch::nn::functional::CrossEntropyFuncOptions::reduction_t reduction) {
  const int64_t vocab = logits.size(-1);
  return torch::nn::functional::cross_entropy(
      logits.reshape({-1, vocab}), targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(ignore_index).reduction(reduction));
}

torch::Tensor summed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index) {
  if (!use_fused(logits)) return cross_entropy(logits, targets, ignore_index, torch::kSum);
  const int64_t vocab = logits.size(-1);
  torch::Tensor flat_targets = targets.reshape({-1});
  // cross_entropy refuses out-of-range targets; so does this path, with the same kind of message.
  torch::Tensor out_of_range = flat_targets.ne(ignore_index) & (flat_targets.lt(0) | flat_targets.ge(vocab));
  if (out_of_range.any().item<bool>()) {
    throw RunError("loss: target id out of range for a vocabulary of " + std::to_string(vocab));
  }
  return SoftmaxCrossEntropy::apply(logits.reshape({-1, vocab}), flat_targets, ignore_index);
}

}  // namespace

torch::Tensor lm_loss(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index) {
  return cross_entropy(logits, targets, ignore_index, torch::kMean);
}

LossSum lm_loss_sum(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index) {
  return {summed_cross_entropy(logits, targets, ignore_index), targets.ne(ignore_index).sum()};
}

}  // namespace gptforge
