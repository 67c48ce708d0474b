#!/usr/bin/env bash
# A run bounded only by train.max_minutes fixes its length in steps at its first checkpoint and
# stores it; from then on its learning rate follows the steps, and --resume keeps that plan (issue 18,
# item 16). GPTFORGE_PLANNED_STEPS stands for the estimate from the measured rate, so that nothing
# here depends on timing: the first checkpoint plans 12 steps, and the run stops there long before its
# time budget. Checked by numbers: the logged learning rates after the first checkpoint are the cosine
# schedule of a 12-step run, and two continuations of that checkpoint (one killed at its next
# checkpoint and resumed without the hook) log the same learning rate and loss at every step.
set -euo pipefail
bin=$1
source "$(dirname "$0")/lib.bash"

source "$(dirname "$0")/tiny_data.bash"
tiny_data "$bin" 40
train=("${common[@]}" train.data_dir=shards model.n_layer=1 model.n_head=2 model.d_model=16 model.block_size=16
       model.dropout=0.1 train.batch_size=2 train.max_steps=0 train.max_tokens=0 train.max_minutes=2
       train.schedule=cosine train.warmup_steps=2 train.learning_rate=0.01 train.min_lr=0.001
       train.log_interval=1 train.eval_interval=0 train.eval_batches=1 train.checkpoint_interval=4 train.keep_last=10)

# The run up to its first checkpoint, killed just after it.
set +e
(GPTFORGE_PLANNED_STEPS=12 GPTFORGE_CRASH_AT=checkpoint.linked@4 exec "$bin" train "${train[@]}" train.out_dir=run \
  >/dev/null 2>kill.txt)
rc=$?
set -e
[[ $rc == 137 ]] || fail "the run was not killed at its first checkpoint (exit $rc): $(cat kill.txt)"
grep -qE '"planned_steps": ?12' run/step_0000004/trainer_state.json ||
  fail "the first checkpoint does not store the plan: $(grep -o '"planned_steps[^,]*' run/step_0000004/trainer_state.json)"

# Two continuations of that checkpoint, without the hook: one uninterrupted, one killed at step 8 and resumed.
cp -a run a
cp -a run b
"$bin" train "${train[@]}" train.out_dir=a --resume run.log_level=info >a.log 2>&1 || fail "resume a: $(tail -3 a.log)"
grep -q "keeps the 12 steps it planned at its first checkpoint" a.log || fail "the resume does not say it keeps the plan"
set +e
(GPTFORGE_CRASH_AT=checkpoint.linked@8 exec "$bin" train "${train[@]}" train.out_dir=b --resume >/dev/null 2>kill.txt)
rc=$?
set -e
[[ $rc == 137 ]] || fail "the continuation was not killed at step 8 (exit $rc): $(cat kill.txt)"
"$bin" train "${train[@]}" train.out_dir=b --resume >/dev/null 2>err.txt || fail "resume b: $(cat err.txt)"

# step lr loss of every logged step
logged() { grep '"loss"' "$1" | sed -E 's/.*"loss":([^,}]*).*"lr":([^,}]*).*"step":([0-9]+).*/\3 \2 \1/' | sort -n; }
logged a/metrics.jsonl > a.steps
logged b/metrics.jsonl > b.steps
[[ $(tail -1 a.steps | cut -d' ' -f1) == 12 && $(wc -l < a.steps) == 12 ]] ||
  fail "the resumed run did not stop at its 12 planned steps: $(cut -d' ' -f1 a.steps | tr '\n' ' ')"
diff -q a.steps b.steps >/dev/null || fail "the two continuations differ: $(diff a.steps b.steps | head -4)"

# Steps 5..12 (0-based 4..11) follow the cosine schedule of 12 steps with 2 of warmup.
awk '$1 > 4 {
  pi = atan2(0, -1); p = ($1 - 1 - 2) / (12 - 2);
  want = 0.001 + 0.5 * (1 + cos(pi * p)) * (0.01 - 0.001);
  d = $2 - want; if (d < 0) d = -d;
  if (d > 1e-12 * want) { printf "step %d: lr %.17g, the 12-step schedule gives %.17g\n", $1, $2, want; bad = 1 }
} END { exit bad }' a.steps > lr.txt || fail "$(cat lr.txt)"
echo "time_bounded_resume: all checks passed"
