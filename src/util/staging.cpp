#include "util/staging.h"

#include <unistd.h>

#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <regex>

#include "util/errors.h"
#include "util/fault_injection.h"
#include "util/files.h"
#include "util/log.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {
// A hidden sibling of `path`: same directory, so the final rename stays on one filesystem.
std::string sibling(const fs::path& path, const std::string& tag) {
  fs::path name = path.filename();
  if (name.empty()) name = path.parent_path().filename();  // "dir/" -> "dir"
  fs::path parent = path.filename().empty() ? path.parent_path().parent_path() : path.parent_path();
  return (parent / ("." + name.string() + "." + tag + "-" + std::to_string(::getpid()))).string();
}

std::string without_trailing_slash(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}
}  // namespace

StagedOutput::StagedOutput(std::string final_path, bool is_directory, bool force, const std::string& what)
    : final_(without_trailing_slash(std::move(final_path))), dir_(is_directory) {
  if (final_.empty()) throw UsageError(what + " is empty: name the output path");
  const std::string name = fs::path(final_).filename().string();
  if (name == "." || name == ".." || final_ == "/") {
    throw UsageError(what + " '" + final_ + "' must name a file or directory of its own, not '" + name + "'");
  }
  std::error_code ec;
  if (fs::exists(fs::symlink_status(final_, ec)) && !force) {
    throw UsageError(what + " '" + final_ + "' already exists: pass --force to replace it");
  }
  fs::path parent = fs::path(final_).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  tmp_ = sibling(final_, "tmp");
  fs::remove_all(tmp_, ec);
  if (dir_) fs::create_directories(tmp_);
}

StagedOutput::~StagedOutput() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

std::string StagedOutput::commit() {
  if (dir_) {
    for (const auto& e : fs::directory_iterator(tmp_)) fsync_path(e.path().string());
  }
  fsync_path(tmp_);
  std::error_code ec;
  const std::string old = sibling(final_, "old");
  const bool replacing = fs::exists(fs::symlink_status(final_, ec));
  if (replacing) {
    fs::remove_all(old, ec);
    fs::rename(final_, old);
    crash_point("staging.replacing");  // the window between the renames: old copy beside, none in place
  }
  fs::rename(tmp_, final_);
  committed_ = true;
  fs::path parent = fs::path(final_).parent_path();
  fsync_path(parent.empty() ? "." : parent.string());
  if (replacing) fs::remove_all(old, ec);
  return final_;
}

void remove_stale_staging(const std::string& final_path) {
  const fs::path final_p(without_trailing_slash(final_path));
  fs::path parent = final_p.parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent)) return;
  const std::string name =
      std::regex_replace(final_p.filename().string(), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
  const std::regex stale("\\." + name + R"(\.(tmp|old)-(\d+))");
  for (const auto& e : fs::directory_iterator(parent)) {
    std::smatch m;
    const std::string entry = e.path().filename().string();
    if (!std::regex_match(entry, m, stale)) continue;
    const pid_t pid = static_cast<pid_t>(std::stoll(m[2].str()));
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
      std::error_code ec;
      fs::remove_all(e.path(), ec);
      log_debug("removed the leftover " + e.path().string());
    }
  }
}

}  // namespace gptforge
