#include "util/log.h"

#include <cstdarg>
#include <vector>

namespace gptforge {
namespace {
LogLevel g_level = LogLevel::Info;
}

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log_info(const std::string& msg) {
  if (g_level >= LogLevel::Info) std::fprintf(stderr, "%s\n", msg.c_str());
}
void log_debug(const std::string& msg) {
  if (g_level >= LogLevel::Debug) std::fprintf(stderr, "[debug] %s\n", msg.c_str());
}
void log_warn(const std::string& msg) {
  if (g_level >= LogLevel::Info) std::fprintf(stderr, "warning: %s\n", msg.c_str());
}

std::string strprintf(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  std::vsnprintf(buf.data(), buf.size(), fmt, args);
  va_end(args);
  return std::string(buf.data(), static_cast<size_t>(n));
}

}  // namespace gptforge
