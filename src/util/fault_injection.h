// Test-only fault injection for the save path: the file-system steps of a checkpoint save name
// themselves here, and a test picks one through the environment to reproduce, without timing, what a
// kill or a full disk does at exactly that point. Unset, these cost one getenv per call.
//
//   GPTFORGE_CRASH_AT=<point>[@<step>]   the process kills itself (SIGKILL) on reaching <point>
//                                        (of the save of <step>, when given)
//   GPTFORGE_FAIL_WRITE=<file name>      writes of a checkpoint file of that name go to /dev/full,
//                                        so they fail as on a full disk (ENOSPC)
//   GPTFORGE_PLANNED_STEPS=<n>           a run bounded by train.max_minutes plans n steps at its
//                                        first checkpoint instead of estimating them from its rate
//                                        (tests of its resume, without timing)
#pragma once
#include <cstdint>
#include <string>

namespace gptforge {

// Kills the process with SIGKILL when GPTFORGE_CRASH_AT names this point (and step, when it has one).
void crash_point(const std::string& point, int64_t step = -1);
// Where to write `path`: /dev/full when GPTFORGE_FAIL_WRITE names its file name, else `path`.
std::string write_destination(const std::string& path);
// GPTFORGE_PLANNED_STEPS when set (a positive integer), else `estimate`.
int64_t planned_steps_or(int64_t estimate);

}  // namespace gptforge
