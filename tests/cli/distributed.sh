#!/usr/bin/env bash
# Distributed `gptforge train` through the real executable, two processes on 127.0.0.1 (Gloo):
#   1. `gptforge launch --nproc 2` runs, reports once, and writes one checkpoint holding both ranks'
#      loader and RNG states;
#   2. kill -9 of one rank (started torchrun-style, from the environment): the other exits non-zero
#      within run.dist_timeout with one clear line, and the last checkpoint resumes with two processes
#      to exactly the losses of the uninterrupted run; resuming with one process is refused;
#   3. SIGTERM to the launcher: both ranks stop at the same step, checkpoint, exit 0; resume is exact;
#   4. a rank that hangs (SIGSTOP): the other gives up within the timeout;
#   5. nothing at MASTER_PORT: a clear error within the timeout;
#   6. kill -9 of a launched rank: the launcher names it and exits non-zero;
#   7. `gptforge launch --nproc 2 -- sft` fine-tunes the first run's checkpoint;
#   8. the same with LoRA: the adapters train, the frozen base is saved unchanged.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$tmp"
now() { date +%s.%N; }
secs_since() { echo "$(now) - $1" | bc; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
logged_steps() {
  local n=0
  [[ -f $1/metrics.jsonl ]] && n=$(grep -c '"loss"' "$1/metrics.jsonl")
  echo "${n:-0}"
}
wait_steps() {  # dir steps: waits (up to 60 s) until the run in dir logged that many steps
  for _ in $(seq 1 3000); do (( $(logged_steps "$1") >= $2 )) && return 0; sleep 0.02; done
  fail "$1 never reached step $2"
}
extract() { grep '"loss"' "$1" | sed -E 's/.*"loss":([^,}]*).*"step":([0-9]+).*/\2 \1/' | sort -n; }
one_line_error() {  # file fragment
  grep -q -- "$2" "$1" || fail "message lacks '$2': $(cat "$1")"
  [[ $(grep -c . "$1") == 1 ]] || fail "more than one line on stderr: $(cat "$1")"
}

# A small synthetic corpus, tokenizer and shards.
source "$(dirname "$0")/tiny_data.bash"
tiny_data "$bin" 80

# 256 tokens per step: one micro-batch of 4 x 32 per rank with two ranks.
train=(train "${common[@]}" train.data_dir=shards model.n_layer=2 model.n_head=2 model.d_model=32 model.block_size=32
       model.dropout=0.1 train.batch_size=4 train.total_batch_tokens=256 train.max_steps=80 train.warmup_steps=10
       train.eval_interval=40 train.eval_batches=2 train.log_interval=1 train.checkpoint_interval=5 train.keep_last=2
       run.dist_timeout=10)

# ---- 1. The uninterrupted two-process run ----
t0=$(now)
"$bin" launch --nproc 2 -- "${train[@]}" train.out_dir=full >full.out 2>full.err || fail "launch: $(cat full.err)"
echo "two-process run of 80 steps: $(secs_since "$t0") s"
[[ $(grep -c '^done after 80 steps' full.out) == 1 ]] || fail "summary not printed exactly once: $(cat full.out)"
[[ $(logged_steps full) == 80 ]] || fail "full run logged $(logged_steps full) steps"
state=full/latest/trainer_state.json
python3 - "$state" <<'EOF' || fail "checkpoint lacks world_size 2 or per-rank states"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["world_size"] == 2, s["world_size"]
assert len(s["loader_states"]) == 2 and s["loader_states"][0] != s["loader_states"][1], s["loader_states"]
assert len(s["rng_cpu_ranks"]) == 2 and s["rng_cpu_ranks"][0] == s["rng_cpu"], "rng"
EOF
extract full/metrics.jsonl > full.losses

# ---- 2. kill -9 of rank 1 of a torchrun-style start; rank 0 fails fast; resume is exact ----
port=$(free_port)
env_for() { echo "RANK=$1 WORLD_SIZE=2 LOCAL_RANK=$1 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port"; }
env $(env_for 0) "$bin" "${train[@]}" train.out_dir=killed >r0.out 2>r0.err &
pid0=$!
env $(env_for 1) "$bin" "${train[@]}" train.out_dir=killed >r1.out 2>r1.err &
pid1=$!
wait_steps killed 23
kill -9 $pid1
t0=$(now)
wait $pid0; rc=$?
took=$(secs_since "$t0")
wait $pid1 2>/dev/null
echo "kill -9 of rank 1: rank 0 exited with status $rc after $took s: $(cat r0.err)"
[[ $rc != 0 ]] || fail "rank 0 exited 0 after its peer was killed"
(( $(echo "$took < 10" | bc) )) || fail "rank 0 took $took s (timeout 10 s)"
one_line_error r0.err "lost the connection to rank 1"
[[ -e killed/latest ]] || fail "no checkpoint before the kill"
step_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["step"])' "$1/latest/trainer_state.json"; }
ck_step=$(step_of killed)
echo "resuming from step $ck_step"
"$bin" launch --nproc 2 -- "${train[@]}" train.out_dir=killed --resume >resume.out 2>resume.err ||
  fail "resume: $(cat resume.err)"
extract killed/metrics.jsonl > killed.losses
diff -q full.losses killed.losses >/dev/null || fail "resumed losses differ: $(diff full.losses killed.losses | head -4)"
echo "resumed two-process run matches the uninterrupted one at all 80 steps"

# Another process count is refused, naming both counts.
"$bin" "${train[@]}" train.out_dir=killed --resume >/dev/null 2>one.err; rc=$?
[[ $rc == 1 ]] || fail "resume with 1 process: exit $rc ($(cat one.err))"
one_line_error one.err "written by a run of 2 process(es), resumed with 1"

# ---- 3. SIGTERM to the launcher: every rank stops at the same step; resume is exact ----
"$bin" launch --nproc 2 -- "${train[@]}" train.out_dir=term >term.out 2>term.err &
pid=$!
wait_steps term 30
kill -TERM $pid
wait $pid; rc=$?
[[ $rc == 0 ]] || fail "SIGTERM: launcher exit $rc: $(cat term.err)"
[[ $(grep -c '^interrupted after' term.out) == 1 ]] || fail "SIGTERM: no single summary: $(cat term.out)"
term_step=$(step_of term)
[[ $term_step == $(logged_steps term) ]] || fail "checkpoint at $term_step, $(logged_steps term) steps logged"
"$bin" launch --nproc 2 -- "${train[@]}" train.out_dir=term --resume >/dev/null 2>term2.err || fail "resume: $(cat term2.err)"
extract term/metrics.jsonl > term.losses
diff -q full.losses term.losses >/dev/null || fail "losses after SIGTERM+resume differ"
echo "SIGTERM stopped both ranks at step $term_step; resume matches"

# ---- 4. A rank that hangs: the other gives up within run.dist_timeout ----
port=$(free_port)
hang=("${train[@]}" train.out_dir=hang train.max_steps=100000 run.dist_timeout=4)
env $(env_for 0) "$bin" "${hang[@]}" >/dev/null 2>h0.err &
pid0=$!
env $(env_for 1) "$bin" "${hang[@]}" >/dev/null 2>/dev/null &
pid1=$!
wait_steps hang 5
kill -STOP $pid1
t0=$(now)
wait $pid0; rc=$?
took=$(secs_since "$t0")
kill -9 $pid1; wait $pid1 2>/dev/null
echo "SIGSTOP of rank 1: rank 0 exited with status $rc after $took s: $(cat h0.err)"
[[ $rc != 0 ]] || fail "rank 0 exited 0 while its peer hung"
(( $(echo "$took < 4 + 4" | bc) )) || fail "rank 0 took $took s (timeout 4 s)"
one_line_error h0.err "no answer from rank 1 within run.dist_timeout=4s"

# ---- 5. Nothing listens at MASTER_PORT ----
port=$(free_port)
t0=$(now)
env $(env_for 1) "$bin" "${train[@]}" train.out_dir=noport run.dist_timeout=3 >/dev/null 2>np.err; rc=$?
took=$(secs_since "$t0")
echo "wrong MASTER_PORT: exit $rc after $took s: $(cat np.err)"
[[ $rc == 1 ]] || fail "wrong port: exit $rc"
(( $(echo "$took < 3 + 3" | bc) )) || fail "wrong port took $took s (timeout 3 s)"
one_line_error np.err "rank 1 cannot reach rank 0 at 127.0.0.1:$port"

# ---- 6. kill -9 of a launched rank: the launcher names it ----
"$bin" launch --nproc 2 -- "${hang[@]}" train.out_dir=lk >/dev/null 2>lk.err &
pid=$!
wait_steps lk 5
victim=""
for c in $(pgrep -P $pid); do grep -qz '^RANK=1$' /proc/$c/environ && victim=$c; done
[[ -n $victim ]] || fail "no rank 1 under the launcher"
kill -9 "$victim"
t0=$(now)
wait $pid; rc=$?
took=$(secs_since "$t0")
echo "launcher after kill -9 of rank 1: exit $rc after $took s"
[[ $rc == 137 ]] || fail "launcher exit $rc, expected 137: $(cat lk.err)"
grep -q "launch: rank 1 (pid $victim) was killed by signal 9" lk.err || fail "launcher message: $(cat lk.err)"
(( $(echo "$took < 4 + 2" | bc) )) || fail "launcher took $took s"
# ---- 7. Fine-tuning with two processes: each rank its own stride of the examples ----
"$bin" tasks --out tasks --train 20 --test 2 >/dev/null || fail "tasks"
"$bin" launch --nproc 2 -- sft "${common[@]}" train.init_from=full sft.train_file=tasks/train.jsonl train.batch_size=4 \
  train.max_steps=8 train.warmup_steps=2 train.eval_interval=4 train.log_interval=1 train.checkpoint_interval=4 \
  train.out_dir=sft run.dist_timeout=10 >sft.out 2>sft.err || fail "sft: $(cat sft.err)"
[[ $(grep -c '^done after 8 steps' sft.out) == 1 ]] || fail "sft summary: $(cat sft.out)"
python3 - sft/latest/trainer_state.json <<'EOF' || fail "sft checkpoint lacks the two ranks' states"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["kind"] == "sft" and s["world_size"] == 2, s
assert [l.split()[0] for l in s["loader_states"]] == ["sft", "sft"], s["loader_states"]
EOF
echo "two-process sft ran 8 steps"
# ---- 8. LoRA with two processes: only the adapters are reduced and stepped ----
"$bin" launch --nproc 2 -- sft "${common[@]}" train.init_from=full sft.train_file=tasks/train.jsonl train.batch_size=4 \
  train.max_steps=6 train.warmup_steps=2 train.eval_interval=0 train.log_interval=1 train.checkpoint_interval=6 \
  lora.rank=2 lora.alpha=4 "lora.targets=[q, v, o, fc, proj]" train.learning_rate=0.05 \
  train.out_dir=sft-lora run.dist_timeout=10 >lora.out 2>lora.err || fail "LoRA sft: $(cat lora.err)"
[[ $(grep -c '^done after 6 steps' lora.out) == 1 ]] || fail "LoRA sft summary: $(cat lora.out)"
python3 - full/latest sft-lora/latest <<'EOF' || fail "the two-process LoRA checkpoint"
import json, struct, sys
def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header, body = json.loads(f.read(n)), f.read()
    return {k: body[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in header.items() if k != "__metadata__"}
base, tuned = tensors(sys.argv[1] + "/model.safetensors"), tensors(sys.argv[2] + "/model.safetensors")
assert base == tuned, [k for k in base if base[k] != tuned.get(k)]  # frozen: bit for bit the base
adapters = tensors(sys.argv[2] + "/adapter_model.safetensors")
lora_b = [v for k, v in adapters.items() if k.endswith("lora_B.weight")]
assert len(lora_b) == 2 * 5 and all(any(v) for v in lora_b), "some lora_B stayed zero: not trained"
s = json.load(open(sys.argv[2] + "/trainer_state.json"))
assert s["world_size"] == 2 and s["step"] == 6, s
EOF
echo "two-process LoRA sft ran 6 steps, base unchanged"
echo "distributed: all checks passed"
