// Evaluation and generation run the model in eval mode (no dropout) and hand it back as they found it.
#pragma once
#include "model/gpt.h"

namespace gptforge {

// Puts the model in eval mode for its lifetime and restores training mode afterwards.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(GPT& model) : model_(model), was_training_(model->is_training()) { model_->eval(); }
  ~EvalModeGuard() {
    if (was_training_) model_->train();
  }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  GPT model_;
  bool was_training_;
};

}  // namespace gptforge
