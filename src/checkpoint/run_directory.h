// The run directory around the checkpoints (checkpoint.h): what a killed save leaves there, and its
// repair before a run starts.
//
// A save stages the checkpoint in a hidden `.step_<N>.tmp-<pid>` directory and renames it into
// place (a checkpoint of the same step is first set aside as `.step_<N>.old-<pid>`), then moves the
// `latest`/`best` links through `.latest.tmp.<pid>`, then prunes: each old checkpoint is renamed to
// `.trash-step_<N>-<pid>` before it is deleted, so no kill leaves a half-deleted one under its name.
// The save path names its steps for fault-injection tests (util/fault_injection.h).
#pragma once
#include <string>

namespace gptforge {

// Before a run starts in out_dir: a `latest`/`best` that is a copied directory rather than a link
// (cp -rL, rsync -L) becomes a step directory again or is dropped as a duplicate; `latest` is pointed
// at the newest complete checkpoint when a kill left it behind (a checkpoint published but not yet
// linked, or the copy set aside while a checkpoint of the same step was being replaced); then the
// hidden leftovers of killed saves are removed, only those whose process is gone. Each repair is
// logged. Only candidates newer than what `latest` shows are verified against their manifests.
void tidy_run_directory(const std::string& out_dir);

}  // namespace gptforge
