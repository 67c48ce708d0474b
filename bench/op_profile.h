// Where the time goes per LibTorch op, for the benchmarks: a RecordFunction observer times every op
// between start() and stop(), and report() lists the ops by self time (an op's time less the ops it
// called), as PyTorch's key_averages() table does for bench/reference_pytorch.py --profile, so the
// two sides can be read against each other.
//
// It uses RecordFunction's global callbacks, the layer PyTorch's profilers are built on: the same
// API in LibTorch 1.13 and 2.x (the legacy profiler's C++ API, used before, is gone from 2.x, and
// the Kineto one depends on how LibTorch was built). gptforge's own products record themselves
// (RECORD_FUNCTION in model/linear.cpp and model/batched_matmul.cpp), so they appear by name.
#pragma once
#include <ATen/record_function.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace gptforge::bench {

class OpProfile {
 public:
  // Only one profile runs at a time: the callbacks reach it through a static pointer.
  void start() {
    active_ = this;
    handle_ = at::addGlobalCallback(at::RecordFunctionCallback(&on_start, &on_end)
                                        .needsInputs(false)
                                        .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION,
                                                 at::RecordScope::USER_SCOPE}));
  }

  void stop() {
    at::removeCallback(handle_);
    active_ = nullptr;
  }

  // The `top` ops by self time, one line each, with their share of all self time.
  void report(FILE* out, int top) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::pair<std::string, Entry>> rows(ops_.begin(), ops_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
    double all = 0;
    for (const auto& r : rows) all += r.second.self_us;
    std::fprintf(out, "%-52s %10s %8s %10s %7s\n", "op", "self ms", "self %", "total ms", "calls");
    for (int i = 0; i < top && i < static_cast<int>(rows.size()); ++i) {
      const auto& [name, e] = rows[static_cast<size_t>(i)];
      std::fprintf(out, "%-52s %10.1f %7.1f%% %10.1f %7lld\n", name.substr(0, 52).c_str(), e.self_us / 1e3,
                   all > 0 ? 100 * e.self_us / all : 0.0, e.total_us / 1e3, (long long)e.calls);
    }
    std::fprintf(out, "%-52s %10.1f\n", "(all ops)", all / 1e3);
  }

 private:
  struct Entry {
    int64_t calls = 0;
    double self_us = 0, total_us = 0;
  };
  // An op still running on this thread: its children's time is taken off its own when it ends.
  struct Open {
    std::string name;
    std::chrono::steady_clock::time_point began;
    double children_us = 0;
  };
  using Clock = std::chrono::steady_clock;

  static std::vector<Open>& open_ops() {
    thread_local std::vector<Open> stack;
    return stack;
  }

  static std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
    open_ops().push_back({fn.name(), Clock::now(), 0.0});
    return nullptr;
  }

  static void on_end(const at::RecordFunction&, at::ObserverContext*) {
    const auto now = Clock::now();
    auto& stack = open_ops();
    if (stack.empty()) return;  // started before start(): not ours to count
    Open open = std::move(stack.back());
    stack.pop_back();
    const double total = std::chrono::duration<double, std::micro>(now - open.began).count();
    if (!stack.empty()) stack.back().children_us += total;
    OpProfile* self = active_;
    if (self == nullptr) return;
    std::lock_guard<std::mutex> lock(self->mutex_);
    Entry& entry = self->ops_[open.name];
    entry.calls += 1;
    entry.total_us += total;
    entry.self_us += total - open.children_us;
  }

  static inline OpProfile* active_ = nullptr;
  at::CallbackHandle handle_ = 0;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> ops_;
};

}  // namespace gptforge::bench
