// Outputs that appear whole or not at all: the one way gptforge publishes a directory or a file
// (checkpoints, prepared shards, exports). A StagedOutput hands out a temporary path next to the
// destination (same filesystem, hidden name); commit() fsyncs it and renames it into place,
// replacing an existing destination only when forced. Destroyed without commit(), it removes the
// temporary path, so an error or exception leaves nothing behind.
#pragma once
#include <string>

namespace gptforge {

class StagedOutput {
 public:
  // Throws UsageError when `final_path` exists and !force (`what` names the option in the
  // message, e.g. "export.out"). For a directory, the temporary path is created.
  StagedOutput(std::string final_path, bool is_directory, bool force, const std::string& what);
  ~StagedOutput();
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;

  const std::string& path() const { return tmp_; }  // where to write
  const std::string& final_path() const { return final_; }
  // Moves the temporary output into place. Returns the final path.
  std::string commit();

 private:
  std::string final_, tmp_;
  bool dir_, committed_ = false;
};

// Removes the temporary and replaced copies of `final_path` that processes killed mid-publication
// left behind (those whose process is gone).
void remove_stale_staging(const std::string& final_path);

}  // namespace gptforge
