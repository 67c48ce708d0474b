// Minimal levelled logging to stderr. Results a user asked for (samples, tables) go to stdout;
// everything about the run itself goes here.
#pragma once
#include <cstdio>
#include <string>

namespace gptforge {

enum class LogLevel { Quiet = 0, Info = 1, Debug = 2 };

void set_log_level(LogLevel level);
LogLevel log_level();

void log_info(const std::string& msg);
void log_debug(const std::string& msg);
void log_warn(const std::string& msg);  // shown at every level but quiet

// printf-style formatting into a std::string.
std::string strprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace gptforge
