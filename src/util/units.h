// Elapsed time and human-readable counts, for logs and summaries.
#pragma once
#include <chrono>
#include <string>

namespace gptforge {

// Seconds from `t` to now.
inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A count with an SI suffix: "950", "12.3k", "4.56M", "1.20G".
std::string format_si(double v);

}  // namespace gptforge
