#!/usr/bin/env bash
# Checkpoint saves under faults, through the real executable and the fault-injection hooks of the
# save path (src/util/fault_injection.h), so that nothing depends on timing:
#  - a SIGKILL at each step of a save (staged, between the renames that replace a checkpoint,
#    published but not linked, linked, mid-prune): `--resume` finds the newest complete checkpoint
#    itself, repairs `latest`, removes the leftovers (and says so), and logs exactly the losses of an
#    uninterrupted run; every checkpoint left on disk loads;
#  - a plain restart after a kill that left a complete but unlinked checkpoint refuses to start over;
#  - a full disk during a save (an injected ENOSPC, and a real 1 MB tmpfs where mount is allowed):
#    one line naming the file, rc 1, no staging directory left, the last good checkpoint intact;
#  - a run directory copied with `cp -rL` (latest/best become directories) resumes and saves.
set -euo pipefail
bin=$1
source "$(dirname "$0")/lib.bash"

source "$(dirname "$0")/tiny_data.bash"
tiny_data "$bin" 60
train=("${common[@]}" train.data_dir=shards model.n_layer=2 model.n_head=2 model.d_model=32 model.block_size=32
       model.dropout=0.1 train.batch_size=4 train.max_steps=30 train.warmup_steps=5 train.eval_interval=10
       train.eval_batches=2 train.log_interval=1 train.checkpoint_interval=5 train.keep_last=2)

"$bin" train "${train[@]}" train.out_dir=full >/dev/null 2>&1 || fail "uninterrupted run"
loss_by_step full/metrics.jsonl > full.losses
[[ $(wc -l < full.losses) == 30 ]] || fail "the uninterrupted run logged $(wc -l < full.losses) steps"

# 1. A kill at each point of a save, then --resume.
for point in checkpoint.staged@15 staging.replacing checkpoint.published@15 checkpoint.linked@15 \
             checkpoint.pruning@15 checkpoint.published@5; do
  rm -rf run
  set +e
  (GPTFORGE_CRASH_AT=$point exec "$bin" train "${train[@]}" train.out_dir=run >/dev/null 2>kill.txt)
  rc=$?
  set -e
  [[ $rc == 137 ]] || fail "$point: the run was not killed there (exit $rc): $(cat kill.txt)"
  grep -q "fault injection: killed at ${point%@*}" kill.txt || fail "$point: $(cat kill.txt)"
  case $point in
    checkpoint.staged@15) [[ -n $(hidden_entries run) ]] || fail "$point: expected a staging directory left behind" ;;
    checkpoint.pruning@15) hidden_entries run | grep -q '^\.trash-step_' || fail "$point: expected trash: $(hidden_entries run)" ;;
  esac
  all_checkpoints_load "$bin" run  # a kill mid-prune never leaves a half-deleted checkpoint under its name
  if [[ $point == checkpoint.published@5 ]]; then
    # The first checkpoint was published, not linked: a plain restart must not start over silently.
    [[ ! -e run/latest ]] || fail "$point: latest exists before any repair"
    expect_exit 2 "already holds checkpoints" -- "$bin" train "${train[@]}" train.out_dir=run
    [[ $(readlink run/latest) == step_0000005 ]] || fail "$point: the refused restart did not repair latest"
  fi
  "$bin" train "${train[@]}" train.out_dir=run --resume run.log_level=info >resume.log 2>&1 ||
    fail "$point: resume: $(tail -3 resume.log)"
  case $point in
    checkpoint.staged@15 | checkpoint.pruning@15)
      grep -q "left by an interrupted save" resume.log || fail "$point: the cleanup is not logged" ;;
    checkpoint.published@15 | staging.replacing)
      grep -q "repaired (a save was interrupted)" resume.log || fail "$point: latest was not repaired" ;;
  esac
  [[ -z $(hidden_entries run) ]] || fail "$point: leftovers after resume: $(hidden_entries run)"
  loss_by_step run/metrics.jsonl > run.losses
  diff -q full.losses run.losses >/dev/null || fail "$point: resumed losses differ: $(diff full.losses run.losses | head -4)"
  all_checkpoints_load "$bin" run
  echo "killed at $point: resumed exactly, no leftovers"
done

# 2. A full disk during a save: one line naming the file, rc 1, the last good checkpoint intact.
check_full_disk() {  # run_dir label
  local dir=$1 label=$2
  [[ $(wc -l < err.txt) == 1 ]] || fail "$label: more than one line on stderr: $(cat err.txt)"
  grep -q "No space left on device" err.txt || fail "$label: $(cat err.txt)"
  [[ -z $(hidden_entries "$dir") ]] || fail "$label: staging left behind: $(hidden_entries "$dir")"
  all_checkpoints_load "$bin" "$dir"
}
for file in optimizer.pt model.safetensors trainer_state.json; do
  rm -rf run
  "$bin" train "${train[@]}" train.out_dir=run train.max_steps=10 >/dev/null 2>&1 || fail "run to 10"
  expect_exit 1 "run/.step_0000015.tmp-" -- env GPTFORGE_FAIL_WRITE=$file "$bin" train "${train[@]}" train.out_dir=run --resume
  grep -q "/$file: write failed" err.txt || fail "$file: the error does not name it: $(cat err.txt)"
  check_full_disk run "ENOSPC in $file"
  [[ $(readlink run/latest) == step_0000010 ]] || fail "$file: latest moved to $(readlink run/latest)"
done
echo "injected ENOSPC: one line naming the file, rc 1, last checkpoint intact"
mkdir -p small
if mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
  trap 'umount "$WORK/small" 2>/dev/null || true; rm -rf "$WORK"' EXIT
  expect_exit 1 "small/run/" -- "$bin" train "${train[@]}" train.out_dir=small/run
  check_full_disk small/run "1 MB tmpfs"
  umount small
  trap 'rm -rf "$WORK"' EXIT
  echo "1 MB tmpfs: one line naming the file, rc 1, last checkpoint intact"
else
  echo "(no tmpfs: mount is not allowed here; the injected ENOSPC above stands for it)"
fi

# 3. A run directory copied with cp -rL: latest and best are directories; it resumes and saves.
cp -rL full copied
[[ -d copied/latest && ! -L copied/latest ]] || fail "cp -rL kept the link"
"$bin" train "${train[@]}" train.out_dir=copied train.max_steps=40 --resume >/dev/null 2>err.txt ||
  fail "copied run: $(cat err.txt)"
[[ $(readlink copied/latest) == step_0000040 ]] || fail "copied run: latest is $(ls -ld copied/latest)"
all_checkpoints_load "$bin" copied
echo "checkpoint_faults: all checks passed"
