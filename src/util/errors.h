// Error types by domain. Library code throws these; `main` turns each into one line on stderr and
// an exit code. A user's mistake never shows a stack trace.
#pragma once
#include <stdexcept>
#include <string>

namespace gptforge {

// Exit codes: 2 for usage and config errors (as getopt-style tools do), 1 for everything else.
constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

class Error : public std::runtime_error {
 public:
  Error(const std::string& msg, int exit_code) : std::runtime_error(msg), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// A config file or override is wrong: unknown key, wrong type, out of range, missing.
struct ConfigError : Error {
  explicit ConfigError(const std::string& msg) : Error(msg, kExitUsage) {}
};
// The command line itself is wrong.
struct UsageError : Error {
  explicit UsageError(const std::string& msg) : Error(msg, kExitUsage) {}
};
// Input data is missing, unreadable or malformed (corpora, shards, instruction files).
struct DataError : Error {
  explicit DataError(const std::string& msg) : Error(msg, kExitFailure) {}
};
// A checkpoint is missing, truncated, corrupted or incompatible.
struct CheckpointError : Error {
  explicit CheckpointError(const std::string& msg) : Error(msg, kExitFailure) {}
};
// A run failed for a reason of its own (NaN losses, a dead peer, ...).
struct RunError : Error {
  explicit RunError(const std::string& msg) : Error(msg, kExitFailure) {}
};

}  // namespace gptforge
