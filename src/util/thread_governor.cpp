#include "util/thread_governor.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace gptforge {

int threads_for_load(int cores, int auto_threads, double busy_elsewhere) {
  const int free_cores = cores - static_cast<int>(std::lround(std::max(0.0, busy_elsewhere)));
  return std::max(1, std::min(auto_threads, free_cores));
}

std::optional<double> busy_cpu_seconds(const std::string& proc_stat, long ticks_per_second) {
  std::istringstream in(proc_stat);
  std::string label;
  if (!(in >> label) || label != "cpu" || ticks_per_second <= 0) return std::nullopt;
  // user nice system idle iowait irq softirq steal ...
  double v[8] = {0};
  for (double& x : v) {
    if (!(in >> x)) return std::nullopt;
  }
  return (v[0] + v[1] + v[2] + v[5] + v[6]) / static_cast<double>(ticks_per_second);
}

ThreadGovernor::ThreadGovernor(int cores, int auto_threads, double interval_s)
    : cores_(cores), auto_threads_(auto_threads), threads_(auto_threads), interval_s_(interval_s), last_(take_sample()) {}

std::optional<ThreadGovernor::Sample> ThreadGovernor::take_sample() {
  std::ifstream f("/proc/stat");
  std::string line;
  if (!std::getline(f, line)) return std::nullopt;
  const auto busy = busy_cpu_seconds(line, sysconf(_SC_CLK_TCK));
  if (!busy) return std::nullopt;
  rusage self{};
  getrusage(RUSAGE_SELF, &self);  // every thread of this process
  Sample s;
  s.wall = std::chrono::steady_clock::now();
  s.machine_busy_s = *busy;
  s.own_cpu_s = static_cast<double>(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
                static_cast<double>(self.ru_utime.tv_usec + self.ru_stime.tv_usec) * 1e-6;
  return s;
}

std::optional<int> ThreadGovernor::poll() {
  if (!last_) return std::nullopt;  // no /proc/stat: never changes anything
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_->wall).count() < interval_s_) return std::nullopt;
  const std::optional<Sample> s = take_sample();
  if (!s) return std::nullopt;
  const double wall = std::chrono::duration<double>(s->wall - last_->wall).count();
  busy_elsewhere_ = std::max(0.0, ((s->machine_busy_s - last_->machine_busy_s) - (s->own_cpu_s - last_->own_cpu_s)) / wall);
  last_ = s;
  const int want = threads_for_load(cores_, auto_threads_, busy_elsewhere_);
  // Two measurements in a row must agree: a compiler that runs for a second moves nothing.
  const bool settled = want == pending_;
  pending_ = want;
  if (!settled || want == threads_) return std::nullopt;
  threads_ = want;
  return want;
}

}  // namespace gptforge
