// Where the time goes per LibTorch op, for the benchmarks: LibTorch's own (legacy) profiler records
// every op between start() and stop(), and report() lists the ops by self time (an op's time less
// the ops it called), as PyTorch's key_averages() table does for bench/reference_pytorch.py
// --profile, so the two sides can be read against each other.
//
// Built against LibTorch 1.x only (Debian's, where it was written and checked): the legacy profiler's
// C++ API is internal and moves between releases, and a benchmark must not break the CUDA build.
// Elsewhere kAvailable is false and bench_train refuses --profile.
#pragma once
#include <torch/version.h>
#if TORCH_VERSION_MAJOR < 2
#include <torch/csrc/autograd/profiler_legacy.h>
#endif

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace gptforge::bench {

#if TORCH_VERSION_MAJOR < 2
class OpProfile {
 public:
  static constexpr bool kAvailable = true;
  void start() {
    namespace p = torch::autograd::profiler;
    p::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  }

  void stop() {
    namespace p = torch::autograd::profiler;
    // Every thread's events: push/pop pairs nest, so a stack per thread gives each op its children.
    for (const auto& events : p::disableProfilerLegacy()) {
      struct Open {
        const p::LegacyEvent* push;
        double children_us;
      };
      std::vector<Open> stack;
      for (const auto& e : events) {
        if (e.kind() == p::EventKind::PushRange) {
          stack.push_back({&e, 0.0});
        } else if (e.kind() == p::EventKind::PopRange && !stack.empty()) {
          const Open open = stack.back();
          stack.pop_back();
          const double total = open.push->cpuElapsedUs(e);
          Entry& entry = ops_[open.push->name()];
          entry.calls += 1;
          entry.total_us += total;
          entry.self_us += total - open.children_us;
          if (!stack.empty()) stack.back().children_us += total;
        }
      }
    }
  }

  // The `top` ops by self time, one line each, with their share of all self time.
  void report(FILE* out, int top) const {
    std::vector<std::pair<std::string, Entry>> rows(ops_.begin(), ops_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
    double all = 0;
    for (const auto& r : rows) all += r.second.self_us;
    std::fprintf(out, "%-44s %10s %8s %10s %7s\n", "op", "self ms", "self %", "total ms", "calls");
    for (int i = 0; i < top && i < static_cast<int>(rows.size()); ++i) {
      const auto& [name, e] = rows[static_cast<size_t>(i)];
      std::fprintf(out, "%-44s %10.1f %7.1f%% %10.1f %7lld\n", name.substr(0, 44).c_str(), e.self_us / 1e3,
                   all > 0 ? 100 * e.self_us / all : 0.0, e.total_us / 1e3, (long long)e.calls);
    }
    std::fprintf(out, "%-44s %10.1f\n", "(all ops)", all / 1e3);
  }

 private:
  struct Entry {
    int64_t calls = 0;
    double self_us = 0, total_us = 0;
  };
  std::map<std::string, Entry> ops_;
};
#else
class OpProfile {
 public:
  static constexpr bool kAvailable = false;
  void start() {}
  void stop() {}
  void report(FILE*, int) const {}
};
#endif

}  // namespace gptforge::bench
