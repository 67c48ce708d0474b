#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace gptforge {

LrSchedule::LrSchedule(const TrainConfig& cfg, int64_t total_steps)
    : peak_(cfg.learning_rate), min_(cfg.min_lr), decay_fraction_(cfg.decay_fraction),
      warmup_(cfg.warmup_steps), total_(total_steps) {
  kind_ = cfg.schedule == "cosine" ? Kind::Cosine
          : cfg.schedule == "linear" ? Kind::Linear
          : cfg.schedule == "wsd"    ? Kind::Wsd
                                     : Kind::Constant;
}

double LrSchedule::at(int64_t step, double time_fraction) const {
  // Warmup reaches the peak at step warmup-1, so no step ever trains at lr 0.
  if (step < warmup_) return peak_ * double(step + 1) / double(warmup_);
  if (kind_ == Kind::Constant) return peak_;
  // p: share of the post-warmup run completed, in [0, 1].
  double p = total_ > 0 ? (total_ > warmup_ ? double(step - warmup_) / double(total_ - warmup_) : 1.0) : time_fraction;
  p = std::clamp(p, 0.0, 1.0);
  switch (kind_) {
    case Kind::Cosine:
      return min_ + 0.5 * (1.0 + std::cos(M_PI * p)) * (peak_ - min_);
    case Kind::Linear:
      return peak_ - p * (peak_ - min_);
    case Kind::Wsd: {
      // Stable at the peak, then a linear decay over the last decay_fraction of the run.
      double start = 1.0 - decay_fraction_;
      if (p <= start || decay_fraction_ <= 0) return peak_;
      return peak_ - (p - start) / decay_fraction_ * (peak_ - min_);
    }
    default:
      return peak_;
  }
}

}  // namespace gptforge
