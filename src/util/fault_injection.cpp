#include "util/fault_injection.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace gptforge {

void crash_point(const std::string& point, int64_t step) {
  const char* want = std::getenv("GPTFORGE_CRASH_AT");
  if (!want || !*want) return;
  const std::string here = point + (step >= 0 ? "@" + std::to_string(step) : "");
  if (want != point && want != here) return;
  std::fprintf(stderr, "fault injection: killed at %s\n", here.c_str());
  std::fflush(stderr);
  ::raise(SIGKILL);
}

std::string write_destination(const std::string& path) {
  const char* name = std::getenv("GPTFORGE_FAIL_WRITE");
  if (name && *name && std::filesystem::path(path).filename() == name) return "/dev/full";
  return path;
}

int64_t planned_steps_or(int64_t estimate) {
  const char* fixed = std::getenv("GPTFORGE_PLANNED_STEPS");
  if (!fixed || !*fixed) return estimate;
  char* end = nullptr;
  const long long n = std::strtoll(fixed, &end, 10);
  return *end == '\0' && n > 0 ? static_cast<int64_t>(n) : estimate;
}

}  // namespace gptforge
