#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace gptforge {

LrSchedule::LrSchedule(const TrainConfig& cfg, int64_t total_steps)
    : peak_(cfg.learning_rate), min_(cfg.min_lr), decay_fraction_(cfg.decay_fraction),
      warmup_(cfg.warmup_steps), total_(total_steps), schedule_(cfg.schedule) {}

double LrSchedule::at(int64_t step, double time_fraction) const {
  // Warmup reaches the peak at step warmup-1, so no step ever trains at lr 0.
  if (step < warmup_) return peak_ * double(step + 1) / double(warmup_);
  if (schedule_ == Schedule::Constant) return peak_;
  // p: share of the post-warmup run completed, in [0, 1].
  double p = total_ > 0 ? (total_ > warmup_ ? double(step - warmup_) / double(total_ - warmup_) : 1.0) : time_fraction;
  p = std::clamp(p, 0.0, 1.0);
  switch (schedule_) {
    case Schedule::Cosine:
      return min_ + 0.5 * (1.0 + std::cos(M_PI * p)) * (peak_ - min_);
    case Schedule::Linear:
      return peak_ - p * (peak_ - min_);
    case Schedule::Wsd: {
      // Stable at the peak, then a linear decay over the last decay_fraction of the run.
      double start = 1.0 - decay_fraction_;
      if (p <= start || decay_fraction_ <= 0) return peak_;
      return peak_ - (p - start) / decay_fraction_ * (peak_ - min_);
    }
    case Schedule::Constant:
      break;
  }
  return peak_;
}

}  // namespace gptforge
