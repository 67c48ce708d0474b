#include "train/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "util/errors.h"

namespace gptforge {

Choice<Precision> resolve_precision(Choice<Precision> precision, torch::Device device) {
  if (precision == Precision::Auto) return device.is_cuda() ? Precision::Bf16 : Precision::Fp32;
  if (precision != Precision::Fp32 && !device.is_cuda()) {
    throw ConfigError("train.precision=" + precision + " needs a CUDA device; on CPU use fp32 (or auto)");
  }
  return precision;
}

namespace {
void set_cuda_autocast(bool enabled, at::ScalarType dtype) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
#else
  at::autocast::set_autocast_gpu_dtype(dtype);
  at::autocast::set_enabled(enabled);
#endif
}
}  // namespace

AutocastGuard::AutocastGuard(torch::Device device, Choice<Precision> precision) {
  if (!device.is_cuda() || precision == Precision::Fp32) return;
  set_cuda_autocast(true, precision == Precision::Fp16 ? at::kHalf : at::kBFloat16);  // auto: bf16
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  set_cuda_autocast(false, at::kBFloat16);
  at::autocast::clear_cache();
}

LossScaler::LossScaler(bool enabled, double init_scale, int64_t growth_interval)
    : enabled_(enabled), scale_(enabled ? init_scale : 1.0), growth_interval_(growth_interval) {}

void LossScaler::unscale(const std::vector<torch::Tensor>& params) const {
  if (!enabled_) return;
  torch::NoGradGuard no_grad;
  for (const auto& p : params) {
    if (p.grad().defined()) p.grad().mul_(1.0 / scale_);
  }
}

void LossScaler::update(bool finite) {
  if (!enabled_) return;
  if (!finite) {
    scale_ = std::max(1.0, scale_ / 2);
    good_steps_ = 0;
  } else if (++good_steps_ >= growth_interval_) {
    scale_ *= 2;
    good_steps_ = 0;
  }
}

}  // namespace gptforge
