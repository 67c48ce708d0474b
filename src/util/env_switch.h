// The GPTFORGE_* switches that turn one implementation off or on for comparison (bench/README.md):
// "1" is on, "0" is off, anything else (or unset) leaves the caller's default.
#pragma once
#include <cstdlib>
#include <cstring>
#include <optional>

namespace gptforge {

inline std::optional<bool> env_switch(const char* variable) {
  const char* e = std::getenv(variable);
  if (e && std::strcmp(e, "1") == 0) return true;
  if (e && std::strcmp(e, "0") == 0) return false;
  return std::nullopt;
}

}  // namespace gptforge
