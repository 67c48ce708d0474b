#!/usr/bin/env bash
# Soak (issue 18): 20 SIGKILLs of a tiny training run, each followed by --resume. About half of the
# kills land at a random point of a checkpoint save (staged, published, linked, or mid-prune, through
# GPTFORGE_CRASH_AT), the others a random moment after a random step (in a step, an evaluation or a
# save). After every kill: every checkpoint on disk loads, and every step logged so far has
# exactly the loss of an uninterrupted run. At the end: the whole run matches the uninterrupted one
# step for step, and no hidden leftovers remain.
#
# Not part of the default ctest run (it takes several minutes):
#   bash tests/cli/kill_soak.sh build/gptforge .        [KILLS=20] [SEED=1]
set -euo pipefail
bin=$(readlink -f "$1")
kills_wanted=${KILLS:-20}
RANDOM=${SEED:-1}
here=$(dirname "$(readlink -f "$0")")
source "$here/lib.bash"  # moves into a scratch directory

source "$here/tiny_data.bash"
tiny_data "$bin" 60
steps=120
train=("${common[@]}" train.data_dir=shards model.n_layer=2 model.n_head=2 model.d_model=32 model.block_size=32
       model.dropout=0.1 train.batch_size=4 train.max_steps=$steps train.warmup_steps=5 train.eval_interval=10
       train.eval_batches=2 train.log_interval=1 train.checkpoint_interval=3 train.keep_last=2)

# Every step logged in the run so far has the uninterrupted run's loss.
matches_so_far() {
  [[ -f run/metrics.jsonl ]] || return 0
  loss_by_step run/metrics.jsonl > run.losses
  awk 'NR == FNR { full[$1] = $2; next } !($1 in full) || full[$1] != $2 { print; bad = 1 } END { exit bad }' \
    full.losses run.losses > diff.txt ||
    fail "kill $kills: logged losses differ from the uninterrupted run (step, loss): $(head -3 diff.txt)"
}
latest_step() { [[ -e run/latest ]] && readlink run/latest | sed -E 's/step_0*([0-9]+)/\1/' || echo 0; }

"$bin" train "${train[@]}" train.out_dir=full >/dev/null 2>&1 || fail "uninterrupted run"
loss_by_step full/metrics.jsonl > full.losses
[[ $(wc -l < full.losses) == "$steps" ]] || fail "the uninterrupted run logged $(wc -l < full.losses) steps"

kills=0 runs=0
points=(checkpoint.staged checkpoint.published checkpoint.linked checkpoint.pruning)
while (( kills < kills_wanted )); do
  resume=()
  if [[ -e run/latest ]] || compgen -G "run/step_*" >/dev/null; then resume=(--resume); fi
  if (( RANDOM % 2 )); then
    # A save point of a checkpoint one or two intervals ahead of the last one.
    at=$(( ($(latest_step) / 3 + 1 + RANDOM % 2) * 3 ))
    point=${points[RANDOM % ${#points[@]}]}@$at
    set +e
    (GPTFORGE_CRASH_AT=$point exec "$bin" train "${train[@]}" train.out_dir=run "${resume[@]}" >/dev/null 2>run.err)
    rc=$?
    set -e
    how="at $point"
  else
    # Once the run has logged a random number (1-8) of steps past its checkpoint, after a random
    # delay under 0.3 s: anywhere in a step, an evaluation or a save, whatever the machine's speed.
    # (Past the steps the killed run logged after its checkpoint too: they stay in metrics.jsonl
    # until the resumed run truncates it.)
    logged=$(grep -c '"loss"' run/metrics.jsonl 2>/dev/null || true)
    target=$(( ${logged:-0} + 1 + RANDOM % 8 ))
    delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", r % 30 / 100 }')
    "$bin" train "${train[@]}" train.out_dir=run "${resume[@]}" >/dev/null 2>run.err &
    pid=$!
    for _ in $(seq 1 6000); do
      kill -0 $pid 2>/dev/null || break
      logged=$(grep -c '"loss"' run/metrics.jsonl 2>/dev/null || true)
      (( ${logged:-0} >= target )) && break
      sleep 0.05
    done
    sleep "$delay"
    kill -KILL $pid 2>/dev/null || true
    set +e
    wait $pid
    rc=$?
    set -e
    how="${delay}s after step $target"
  fi
  if [[ $rc == 0 ]]; then
    # The run finished before the kill came (a save point that never fired): check it whole, start over.
    loss_by_step run/metrics.jsonl > run.losses
    diff -q full.losses run.losses >/dev/null || fail "run $runs: losses differ: $(diff full.losses run.losses | head -4)"
    [[ -z $(hidden_entries run) ]] || fail "run $runs: leftovers: $(hidden_entries run)"
    echo "run $runs finished between kills (no kill $how); it matches; starting another"
    rm -rf run
    runs=$((runs + 1))
    continue
  fi
  [[ $rc == 137 ]] || fail "kill $((kills + 1)) $how: the run exited $rc: $(tail -3 run.err)"
  kills=$((kills + 1))
  all_checkpoints_load "$bin" run
  matches_so_far
  echo "kill $kills $how: latest step $(latest_step), every checkpoint loads, logged losses match"
done

# The last resume runs to the end.
"$bin" train "${train[@]}" train.out_dir=run --resume >/dev/null 2>run.err || fail "final resume: $(tail -3 run.err)"
loss_by_step run/metrics.jsonl > run.losses
diff -q full.losses run.losses >/dev/null || fail "final run: losses differ: $(diff full.losses run.losses | head -4)"
[[ -z $(hidden_entries run) ]] || fail "leftovers after the final resume: $(hidden_entries run)"
all_checkpoints_load "$bin" run
echo "kill_soak: $kills kills, every resume exact, no leftovers, every checkpoint loads"
