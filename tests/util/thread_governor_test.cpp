#include "util/thread_governor.h"

#include <gtest/gtest.h>

namespace thread_governor_test {

using namespace gptforge;

TEST(ThreadGovernor, ThreadsForLoadLeaveTheBusyCoresToTheirOwners) {
  // Two cores, two threads when alone.
  EXPECT_EQ(threads_for_load(2, 2, 0.0), 2);
  EXPECT_EQ(threads_for_load(2, 2, 0.3), 2);   // a shell, an editor: not a core
  EXPECT_EQ(threads_for_load(2, 2, 0.6), 1);   // another training process with 2 spinning threads shows ~1
  EXPECT_EQ(threads_for_load(2, 2, 1.0), 1);
  EXPECT_EQ(threads_for_load(2, 2, 5.0), 1);   // never fewer than one
  // Eight cores: as many as are free, never more than the automatic count.
  EXPECT_EQ(threads_for_load(8, 8, 2.7), 5);
  EXPECT_EQ(threads_for_load(8, 4, 1.0), 4);   // two local ranks of four threads: one rank's load leaves 7
  EXPECT_EQ(threads_for_load(8, 4, 6.0), 2);
  EXPECT_EQ(threads_for_load(8, 8, -0.2), 8);  // measurement noise below zero
}

TEST(ThreadGovernor, BusySecondsCountUserNiceSystemIrqSoftirqOfTheAggregateLine) {
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const std::string stat = "cpu  100 20 30 5000 70 4 6 900 0 0\ncpu0 50 10 15 2500 35 2 3 450 0 0\n";
  ASSERT_TRUE(busy_cpu_seconds(stat, 100).has_value());
  EXPECT_DOUBLE_EQ(*busy_cpu_seconds(stat, 100), (100 + 20 + 30 + 4 + 6) / 100.0);  // idle, iowait, steal out
  EXPECT_FALSE(busy_cpu_seconds("cpu0 1 2 3 4 5 6 7 8\n", 100).has_value());      // not the aggregate line
  EXPECT_FALSE(busy_cpu_seconds("cpu 1 2 3\n", 100).has_value());                 // truncated
  EXPECT_FALSE(busy_cpu_seconds("", 100).has_value());
}

TEST(ThreadGovernor, KeepsTheAutomaticCountOnAQuietMachineAndWaitsForTheInterval) {
  // This process alone keeps a core busy; the test cannot make the machine quiet, so it only checks
  // what holds whatever else runs: nothing changes before the interval, and a count it returns is in
  // range.
  ThreadGovernor g(2, 2, 3600.0);
  EXPECT_FALSE(g.poll().has_value());
  EXPECT_EQ(g.threads(), 2);
  ThreadGovernor fast(2, 2, 0.0);
  for (int i = 0; i < 5; ++i) {
    const auto t = fast.poll();
    if (t) EXPECT_TRUE(*t == 1 || *t == 2);
    EXPECT_GE(fast.busy_elsewhere(), 0.0);
  }
}

}  // namespace thread_governor_test
