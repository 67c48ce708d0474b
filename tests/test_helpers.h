// Helpers shared by the tests: scratch directories and small files the tests make themselves.
// A new test file wraps everything after its includes in `namespace <file stem> { ... }`: the unity
// build (CMakeLists.txt, GPTFORGE_UNITY) compiles several test files as one, and their helpers and
// `using` lines must not meet.
#pragma once
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "util/stop_signals.h"

namespace gptforge::testing {

// A fresh directory under the system temp dir, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gptforge-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to name (creating parent directories) and returns the full path.
  std::string write(const std::string& name, const std::string& content) const {
    std::filesystem::path p = file(name);
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::string path_;
};

// Sends `sig` to this process, as Ctrl-C or `kill` would, and returns once util/stop_signals.h's
// waiting thread has handed it on (to a trainer's stop flag): what happens next is then the same
// every run.
inline void send_stop_signal(int sig) {
  const uint64_t before = signals_handled();
  ::kill(::getpid(), sig);
  while (signals_handled() == before) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace gptforge::testing
