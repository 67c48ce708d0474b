#include "util/stop_signals.h"

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>
#include <utility>

namespace gptforge {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM};

std::mutex g_mu;                        // guards g_on_signal and g_scopes
std::function<void(int)> g_on_signal;  // the innermost scope's
int g_scopes = 0;
pthread_t g_waiter;
bool g_inherited_ignore[NSIG] = {};  // the disposition the process started with was SIG_IGN
std::atomic<uint64_t> g_handled{0};  // signals_handled()

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kSignals) sigaddset(&set, sig);
  return set;
}

// For a thread that started before the mask was set: the signal goes on to the waiting thread.
extern "C" void forward_to_waiter(int sig) { pthread_kill(g_waiter, sig); }

void set_disposition(int sig, bool catching) {
  struct sigaction sa = {};
  sa.sa_handler = catching ? forward_to_waiter : SIG_IGN;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

// What the signal would have done without gptforge: end the process (its exit status says by which
// signal), or nothing where the parent had it ignored (a shell's background job and SIGINT).
void default_action(int sig) {
  if (g_inherited_ignore[sig]) return;
  std::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  raise(sig);
}

void wait_for_signals() {
  const sigset_t set = stop_set();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    std::lock_guard<std::mutex> lock(g_mu);
    if (g_on_signal) {
      g_on_signal(sig);
    } else {
      default_action(sig);
    }
    ++g_handled;
  }
}

}  // namespace

void start_signal_thread() {
  static std::once_flag once;
  std::call_once(once, [] {
    const sigset_t set = stop_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread waiter(wait_for_signals);
    g_waiter = waiter.native_handle();
    waiter.detach();
    for (int sig : kSignals) {
      struct sigaction old = {};
      sigaction(sig, nullptr, &old);
      g_inherited_ignore[sig] = old.sa_handler == SIG_IGN;
      // An ignored signal is dropped when sent, so it stays ignored until a scope asks for it.
      if (!g_inherited_ignore[sig]) set_disposition(sig, true);
    }
  });
}

uint64_t signals_handled() { return g_handled.load(); }

SignalScope::SignalScope(std::function<void(int)> on_signal) {
  start_signal_thread();
  std::lock_guard<std::mutex> lock(g_mu);
  previous_ = std::exchange(g_on_signal, std::move(on_signal));
  // A scope takes the signals even where the parent had them ignored, as a handler would.
  if (g_scopes++ == 0) {
    for (int sig : kSignals) set_disposition(sig, true);
  }
}

SignalScope::~SignalScope() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_on_signal = std::move(previous_);
  if (--g_scopes == 0) {
    for (int sig : kSignals) set_disposition(sig, !g_inherited_ignore[sig]);
  }
}

}  // namespace gptforge
