#include "util/stop_signals.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

namespace stop_signals_test {

using namespace gptforge;

// Waits up to 10 s for `flag` to become non-zero.
int wait_for(const std::atomic<int>& flag) {
  for (int i = 0; i < 1000 && flag.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return flag.load();
}

bool blocks(int sig) {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, sig) == 1;
}

TEST(StopSignals, ThreadsStartedAfterwardsBlockThemAndTheWaitingThreadTakesThem) {
  start_signal_thread();
  EXPECT_TRUE(blocks(SIGINT));
  EXPECT_TRUE(blocks(SIGTERM));
  bool worker_blocks = false;
  std::thread([&] { worker_blocks = blocks(SIGINT) && blocks(SIGTERM); }).join();
  EXPECT_TRUE(worker_blocks) << "a thread started after start_signal_thread would run a handler";

  std::atomic<int> got{0};
  std::atomic<bool> on_this_thread{false};
  const pthread_t self = pthread_self();
  {
    SignalScope scope([&](int sig) {
      on_this_thread = pthread_equal(pthread_self(), self) != 0;
      got = sig;
    });
    ASSERT_EQ(kill(getpid(), SIGTERM), 0);
    EXPECT_EQ(wait_for(got), SIGTERM);
    EXPECT_FALSE(on_this_thread.load()) << "the signal interrupted the thread that was working";
  }
}

TEST(StopSignals, TheInnermostScopeGetsThemAndTheOuterOneAgainWhenItEnds) {
  std::atomic<int> outer{0}, inner{0};
  SignalScope a([&](int sig) { outer = sig; });
  {
    SignalScope b([&](int sig) { inner = sig; });
    ASSERT_EQ(kill(getpid(), SIGINT), 0);
    EXPECT_EQ(wait_for(inner), SIGINT);
    EXPECT_EQ(outer.load(), 0);
  }
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  EXPECT_EQ(wait_for(outer), SIGTERM);
}

// Death tests re-run this binary for the one test, so the child's process starts its own waiting thread.
TEST(StopSignals, WithoutAScopeASignalEndsTheProcessByThatSignal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        start_signal_thread();
        kill(getpid(), SIGTERM);
        std::this_thread::sleep_for(std::chrono::seconds(10));
        std::exit(3);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

TEST(StopSignals, AnInheritedIgnoreIsKeptOutsideScopesAndOverriddenInside) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        signal(SIGINT, SIG_IGN);  // as a shell starts a background job
        start_signal_thread();
        kill(getpid(), SIGINT);  // ignored: the process lives on
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::atomic<int> got{0};
        SignalScope scope([&](int sig) { got = sig; });
        kill(getpid(), SIGINT);
        std::exit(wait_for(got) == SIGINT ? 7 : 1);
      },
      ::testing::ExitedWithCode(7), "");
}

}  // namespace stop_signals_test
