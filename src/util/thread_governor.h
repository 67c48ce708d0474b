// Fewer intra-op threads while other processes keep this machine's cores busy.
//
// Why: LibTorch's OpenMP threads spin-wait for each other at the end of every parallel region. When
// another CPU-heavy process shares the cores, the scheduler takes one of our threads off a core and
// the others spin until it returns: two training processes with two threads each on two cores each ran
// 7-10x slower than alone (bench/oversubscription.sh). One thread each gave 8.7x the pair's summed
// speed, while libgomp's passive wait policy (OMP_WAIT_POLICY=passive) cost a process alone a third to
// two thirds of its speed, and cannot be set from inside a running process anyway.
//
// So with run.threads: 0 (every core, the default) the trainer polls a ThreadGovernor every step:
// every `interval_s` it measures how many cores other processes kept busy (from /proc/stat, minus this
// process's own CPU time) and, after two measurements agreeing, sets the thread count to the cores
// left, at least one and at most the automatic count; when the others stop, the count goes back up.
// A fixed run.threads is never changed (and gives bit-for-bit repeatable runs, where a count that
// changes mid-run may change the last bits of reductions).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace gptforge {

// The thread count for `busy_elsewhere` cores kept busy by other processes (rounded to the nearest
// core), between 1 and `auto_threads`.
int threads_for_load(int cores, int auto_threads, double busy_elsewhere);

// Busy time of all cores, in seconds, from the text of /proc/stat (its first, aggregate "cpu" line:
// user + nice + system + irq + softirq; idle, iowait and steal are not busy). nullopt when the text
// has no such line.
std::optional<double> busy_cpu_seconds(const std::string& proc_stat, long ticks_per_second);

class ThreadGovernor {
 public:
  ThreadGovernor(int cores, int auto_threads, double interval_s = 2.0);

  // Measures when `interval_s` has passed since the last measurement; returns the new thread count
  // when it should change (the caller sets it), nullopt otherwise.
  std::optional<int> poll();
  // Cores other processes kept busy over the last measured interval.
  double busy_elsewhere() const { return busy_elsewhere_; }
  int threads() const { return threads_; }

 private:
  struct Sample {
    std::chrono::steady_clock::time_point wall;
    double machine_busy_s = 0, own_cpu_s = 0;
  };
  static std::optional<Sample> take_sample();

  int cores_, auto_threads_, threads_;
  double interval_s_;
  std::optional<Sample> last_;
  int pending_ = -1;  // the count the previous measurement asked for
  double busy_elsewhere_ = 0;
};

}  // namespace gptforge
