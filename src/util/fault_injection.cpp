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

}  // namespace gptforge
