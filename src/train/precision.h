// Mixed precision: bf16/fp16 autocast on CUDA (fp32 master weights), and the dynamic loss scale
// fp16 needs. On CPU everything runs in fp32.
#pragma once
#include <torch/torch.h>

#include <string>

#include "train/train_config.h"

namespace gptforge {

// train.precision resolved for a device: Fp32, Bf16 or Fp16, never Auto (bf16 on CUDA, fp32 on CPU).
// Asking for bf16/fp16 on CPU is a ConfigError naming train.precision.
Choice<Precision> resolve_precision(Choice<Precision> precision, torch::Device device);

// Enables CUDA autocast to the given precision for its lifetime (nothing for fp32 or CPU).
class AutocastGuard {
 public:
  AutocastGuard(torch::Device device, Choice<Precision> precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
};

// Dynamic loss scaling for fp16: scale the loss up before backward, unscale the gradients after;
// halve the scale on overflow (the step is skipped), double it after `growth_interval` good steps.
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double init_scale = 65536.0, int64_t growth_interval = 1000);
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  torch::Tensor scale_loss(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }
  void unscale(const std::vector<torch::Tensor>& params) const;
  // Record whether the step's gradients were finite, and adjust the scale.
  void update(bool finite);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_, good_steps_ = 0;
};

}  // namespace gptforge
