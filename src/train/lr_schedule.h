// Learning-rate schedules: linear warmup, then cosine, linear, constant or warmup-stable-decay.
#pragma once
#include <cstdint>

#include "train/train_config.h"

namespace gptforge {

class LrSchedule {
 public:
  // total_steps: the run's length in optimiser steps, or 0 when only a wall-clock budget bounds it
  // (then the decay follows the elapsed share of train.max_minutes).
  LrSchedule(const TrainConfig& cfg, int64_t total_steps);
  // Learning rate for optimiser step `step` (0-based); time_fraction is used when total_steps == 0.
  double at(int64_t step, double time_fraction = 0.0) const;

 private:
  double peak_, min_, decay_fraction_;
  int64_t warmup_, total_;
  Schedule schedule_;
};

}  // namespace gptforge
