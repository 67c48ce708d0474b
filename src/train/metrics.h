// The metrics file of a run: one JSON object per line (metrics.jsonl in the run directory), every
// logged figure with its step, for plotting (scripts/plot_metrics.py) and for comparing runs.
#pragma once
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace gptforge {

class MetricsLog {
 public:
  // Opens path for appending. With keep_up_to_step >= 0 (a resumed run), first drops records of
  // later steps (what a killed run logged after the checkpoint it resumes from). Without (a fresh
  // run), an existing file is another run's: it is kept aside as path.1 (or .2, ...), see aside().
  MetricsLog(const std::string& path, int64_t keep_up_to_step = -1);
  void write(const nlohmann::json& record);
  // Where the previous run's records were moved; "" when nothing was.
  const std::string& aside() const { return aside_; }

 private:
  std::ofstream out_;
  std::string aside_;
};

}  // namespace gptforge
