// Progress display: a redrawn bar on a terminal, plain periodic lines elsewhere (CI, log files).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "util/run_config.h"

namespace gptforge {

class Progress {
 public:
  // mode: run.progress. total may be 0 when unknown.
  Progress(std::string label, int64_t total, Choice<ProgressMode> mode = ProgressMode::Auto,
           double plain_every_s = 10.0);
  // Reports `done` units with free text after the counter (loss, tokens/s, ...).
  void update(int64_t done, const std::string& info = "");
  // Draws the final state and ends the line: `done` units (the total when < 0; a run stopped early
  // passes what it did, so that the last line never claims completion).
  void finish(const std::string& info = "", int64_t done = -1);
  double elapsed_s() const;

 private:
  void draw(int64_t done, const std::string& info, bool final);
  std::string label_;
  int64_t total_;
  bool bar_ = false, off_ = false;
  double plain_every_s_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace gptforge
