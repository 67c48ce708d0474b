#!/usr/bin/env bash
# CPU oversubscription (issue 18): two CPU-heavy gptforge processes on the same cores, each with as
# many intra-op threads as there are cores, each run far slower than half their speed alone, because
# OpenMP threads spin-wait for peers that the scheduler has taken off the CPU. This measures the
# tiny-model training throughput (tokens/s, median of the logged steps after the first 10) for:
#   alone            one process, run.threads 0 (the default: every core, fewer while others are busy)
#   alone-passive    run.threads = all cores, OMP_WAIT_POLICY=passive   (what passive costs alone)
#   alone-spin10k    run.threads = all cores, GOMP_SPINCOUNT=10000: spin about 10 us before sleeping,
#                    where libgomp's default spins 300,000 iterations
#   pair             two at once, run.threads 0 each (the default: util/thread_governor.h)
#   pair-fixed       two at once, run.threads = all cores each           (the problem)
#   pair-passive     two at once, all cores each, OMP_WAIT_POLICY=passive
#   pair-spin10k     two at once, all cores each, GOMP_SPINCOUNT=10000
#   pair-1thread     two at once, run.threads=1 each
# Run it on a quiet machine (nothing else compiling or training):
#   bash bench/oversubscription.sh build/gptforge [steps]
# It prints one line per case: the tokens/s of each process and their sum.
set -euo pipefail
bin=$(readlink -f "$1")
steps=${2:-300}
cores=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
words=(the cat dog sat ran on mat log big small red blue and then a over under house tree)
for p in $(seq 1 300); do
  line=""
  for w in $(seq 1 60); do line+="${words[$(( (p * 7 + w * w) % ${#words[@]} ))]} "; done
  printf '%s.\n\n' "$line" >> corpus.txt
done
common=(tokenizer.model_prefix=tok tokenizer.vocab_size=300
        data.inputs=corpus.txt data.tokenizer=tok.model data.out_dir=shards data.val_fraction=0.1 run.log_level=quiet)
"$bin" tokenizer train "${common[@]}" >/dev/null
"$bin" prepare "${common[@]}" >/dev/null
# The issue's model: 2 layers, d_model 64, block 64.
train=("${common[@]}" train.data_dir=shards model.n_layer=2 model.n_head=2 model.d_model=64 model.block_size=64
       train.batch_size=8 train.max_steps=$steps train.eval_interval=0 train.eval_batches=1 train.log_interval=1
       train.checkpoint_interval=0 run.progress=off)
median_tps() {  # metrics.jsonl: median tokens/s of the steps after the first 10
  grep '"tokens_per_s"' "$1" | sed -E 's/.*"step":([0-9]+).*"tokens_per_s":([0-9.e+]+).*/\1 \2/' |
    awk '$1 > 10 {print $2}' | sort -g | awk '{a[NR]=$1} END {printf "%.0f", (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}
run_case() {  # name procs threads env...
  local name=$1 procs=$2 threads=$3; shift 3
  local pids=() i
  for i in $(seq 1 "$procs"); do
    env "$@" "$bin" train "${train[@]}" run.threads="$threads" train.out_dir="$name-$i" --force >/dev/null 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  local out="" sum=0 t
  for i in $(seq 1 "$procs"); do
    t=$(median_tps "$name-$i/metrics.jsonl")
    out+=" $t"
    sum=$((sum + t))
  done
  printf '%-14s procs=%d threads=%s  tokens/s:%s  sum %d\n' "$name" "$procs" "$([[ $threads == 0 ]] && echo auto || echo "$threads")" "$out" "$sum"
}
echo "cores: $cores; $steps steps per run"
# The single-process cases twice, alternated: the machine's own drift shows as the gap between rounds.
for round in 1 2; do
  run_case alone 1 0 -u OMP_WAIT_POLICY
  run_case alone-passive 1 "$cores" OMP_WAIT_POLICY=passive
  run_case alone-spin10k 1 "$cores" -u OMP_WAIT_POLICY GOMP_SPINCOUNT=10000
done
run_case pair 2 0 -u OMP_WAIT_POLICY
run_case pair-fixed 2 "$cores" -u OMP_WAIT_POLICY
run_case pair-passive 2 "$cores" OMP_WAIT_POLICY=passive
run_case pair-spin10k 2 "$cores" -u OMP_WAIT_POLICY GOMP_SPINCOUNT=10000
run_case pair-1thread 2 1 -u OMP_WAIT_POLICY
