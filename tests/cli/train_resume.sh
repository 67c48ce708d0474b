#!/usr/bin/env bash
# `gptforge train` end to end through the real executable: a run killed with SIGKILL and resumed
# logs exactly the losses of an uninterrupted run; SIGTERM checkpoints and exits cleanly; bad
# configs and damaged checkpoints fail with one clear line.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$tmp"

source "$(dirname "$0")/tiny_data.bash"
tiny_data "$bin" 80

train=("${common[@]}" train.data_dir=shards model.n_layer=2 model.n_head=2 model.d_model=32 model.block_size=32
       model.dropout=0.1 train.batch_size=4 train.max_steps=300 train.warmup_steps=10 train.eval_interval=50
       train.eval_batches=2 train.log_interval=1 train.checkpoint_interval=7 train.keep_last=2
       train.sample_interval=40 sample.max_new_tokens=8 "sample.prompt=the cat")

# 1. The uninterrupted run.
"$bin" train "${train[@]}" train.out_dir=full run.log_level=info >full.log 2>&1 || fail "full run: $(cat full.log)"

# 2. The same run, killed with SIGKILL part-way (often in the middle of a checkpoint save).
"$bin" train "${train[@]}" train.out_dir=parts >parts.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [[ -f parts/metrics.jsonl ]] && (( $(grep -c '"loss"' parts/metrics.jsonl) >= 120 )) && break
  sleep 0.02
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
[[ -e parts/latest ]] || fail "no checkpoint before the kill"
killed_at=$(grep -c '"loss"' parts/metrics.jsonl)
(( killed_at < 300 )) || fail "the run finished before it was killed"
"$bin" train "${train[@]}" train.out_dir=parts --resume >resume.log 2>&1 || fail "resume: $(cat resume.log)"

# Every step's loss equals the uninterrupted run's (the resumed run replaces records after its checkpoint).
extract() { grep '"loss"' "$1" | sed -E 's/.*"loss":([^,}]*).*"step":([0-9]+).*/\2 \1/' | sort -n; }
extract full/metrics.jsonl > full.losses
extract parts/metrics.jsonl > parts.losses
[[ $(wc -l < full.losses) == 300 ]] || fail "full run logged $(wc -l < full.losses) steps"
diff -q full.losses parts.losses >/dev/null || fail "resumed losses differ: $(diff full.losses parts.losses | head -4)"
echo "killed after $killed_at logged steps; resumed run matches at all 300 steps"
grep -q "^sample step 40: the cat" full.log || fail "no periodic sample in the log: $(grep -m2 sample full.log)"

# 3. SIGTERM: checkpoint, then a clean exit.
"$bin" train "${train[@]}" train.out_dir=term train.max_steps=100000 >term.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do [[ -e term/latest ]] && break; sleep 0.02; done
kill -TERM $pid; wait $pid; rc=$?
[[ $rc == 0 ]] || fail "SIGTERM: exit $rc"
grep -q "^interrupted after" term.log || fail "SIGTERM: no summary: $(tail -3 term.log)"

# 4. Errors: one line, the key or file named, exit 2 for config and usage, 1 otherwise.
expect_error() {  # code fragment command...
  local code=$1 fragment=$2; shift 2
  "$@" >/dev/null 2>err.txt; local rc=$?
  [[ $rc == "$code" ]] || fail "$*: exit $rc, expected $code ($(cat err.txt))"
  grep -q -- "$fragment" err.txt || fail "$*: message lacks '$fragment': $(cat err.txt)"
  [[ $(wc -l < err.txt) == 1 ]] || fail "$*: more than one line on stderr: $(cat err.txt)"
}
expect_error 2 "already holds checkpoints" "$bin" train "${train[@]}" train.out_dir=full
expect_error 2 "model.vocab_size (999)" "$bin" train "${train[@]}" train.out_dir=v model.vocab_size=999
expect_error 1 "model.block_size" "$bin" train "${train[@]}" train.out_dir=b model.block_size=100000
expect_error 1 "model.d_model" "$bin" train "${train[@]}" train.out_dir=full model.d_model=64 --resume
expect_error 1 "meta.json" "$bin" train "${train[@]}" train.out_dir=x train.data_dir=nothere
# A corrupted checkpoint is named; the run refuses to resume from it.
ck=$(readlink -f full/latest)
printf 'garbage' | dd of="$ck/model.safetensors" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_error 1 "corrupted" "$bin" train "${train[@]}" train.out_dir=full --resume
echo "train_resume: all checks passed"
