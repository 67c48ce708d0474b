#include "train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace lr_schedule_test {

using namespace gptforge;

namespace {
TrainConfig schedule_cfg(const std::string& kind) {
  TrainConfig t;
  t.schedule = kind;
  t.learning_rate = 1.0;
  t.min_lr = 0.1;
  t.warmup_steps = 10;
  t.decay_fraction = 0.2;
  return t;
}
}  // namespace

TEST(LrSchedule, LinearWarmupReachesPeak) {
  LrSchedule s(schedule_cfg("cosine"), 110);
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(4), 0.5);
  EXPECT_DOUBLE_EQ(s.at(9), 1.0);
}

TEST(LrSchedule, CosineValuesAtChosenSteps) {
  LrSchedule s(schedule_cfg("cosine"), 110);
  EXPECT_DOUBLE_EQ(s.at(10), 1.0);
  EXPECT_NEAR(s.at(60), 0.1 + 0.5 * 0.9, 1e-12);  // halfway: midpoint
  EXPECT_NEAR(s.at(35), 0.1 + 0.5 * (1 + std::cos(M_PI * 0.25)) * 0.9, 1e-12);
  EXPECT_NEAR(s.at(110), 0.1, 1e-12);
  EXPECT_NEAR(s.at(500), 0.1, 1e-12);  // past the end stays at the minimum
}

TEST(LrSchedule, LinearConstantAndWsd) {
  LrSchedule lin(schedule_cfg("linear"), 110);
  EXPECT_NEAR(lin.at(60), 0.55, 1e-12);
  LrSchedule con(schedule_cfg("constant"), 110);
  EXPECT_DOUBLE_EQ(con.at(100), 1.0);
  LrSchedule wsd(schedule_cfg("wsd"), 110);
  EXPECT_DOUBLE_EQ(wsd.at(80), 1.0);  // p = 0.7: still stable
  EXPECT_NEAR(wsd.at(100), 1.0 - 0.5 * 0.9, 1e-12);  // p = 0.9: halfway through the decay
  EXPECT_NEAR(wsd.at(110), 0.1, 1e-12);
}

TEST(LrSchedule, TimeBudgetFollowsElapsedShare) {
  LrSchedule s(schedule_cfg("linear"), 0);
  EXPECT_NEAR(s.at(1000, 0.5), 0.55, 1e-12);
  EXPECT_NEAR(s.at(1000, 1.0), 0.1, 1e-12);
}

}  // namespace lr_schedule_test
