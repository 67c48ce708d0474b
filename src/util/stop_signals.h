#pragma once
// SIGINT and SIGTERM, taken by one thread of the process that waits for them (sigwait), never by a
// handler that interrupts whatever a thread is running.
//
// Why: a handler runs on the stack of the thread it interrupts, and oneDNN's JIT-compiled sgemm
// kernels do not survive that: a SIGTERM landing in a training step corrupted the heap in about one
// run in 35 ("corrupted size vs. prev_size" in oneDNN's free, the tiny model of
// tests/cli/train_inputs.sh); with GPTFORGE_ONEDNN=0, or with the signals blocked, never in 300.
// So the signals are blocked in every thread before any other thread starts (threads inherit the
// mask), and one waiting thread hands each to the scope that asked for it, or ends the process by
// it as the default action would.
#include <cstdint>
#include <functional>

namespace gptforge {

// Blocks SIGINT and SIGTERM in the calling thread and starts the waiting thread; once per process,
// later calls do nothing. Call it first in main(), before any thread starts: a thread started before
// keeps the signals unblocked (for such a thread the signal goes on to the waiting thread).
void start_signal_thread();

// How many signals the waiting thread has handed on so far. A signal is asynchronous now (raise()
// from a thread that blocks it stays pending there): a test that sends one to its own process waits
// for this count to grow before it goes on.
uint64_t signals_handled();

// While one lives, each SIGINT/SIGTERM calls `on_signal` on the waiting thread (so it must only
// set flags or wake other threads). Without one, a signal ends the process as it would have ended
// by default (an inherited "ignore" is kept). Scopes nest: the innermost one gets the signals.
// Starts the waiting thread if nothing did (unit tests).
class SignalScope {
 public:
  explicit SignalScope(std::function<void(int)> on_signal);
  ~SignalScope();
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  std::function<void(int)> previous_;
};

}  // namespace gptforge
