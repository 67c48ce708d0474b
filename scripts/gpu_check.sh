#!/usr/bin/env bash
# The checks that need a GPU, in one run on a GPU machine (no apt, no internet; its Python has a
# CUDA build of PyTorch): build against that LibTorch (scripts/gpu_build.sh, from the .debs/ bundle
# of scripts/gpu_bundle.sh), then, each printing `gpu_check: NAME: PASS|FAIL`:
#   cuda_tests   the model tests that skip without a GPU (tests/model/cuda_test.cpp)
#   train        the tiny model trained on the GPU in f32 and in bf16 autocast: the loss falls
#   cpu_vs_cuda  one f32 checkpoint evaluated and sampled greedily on the GPU and on the CPU: same
#                bits per byte (1e-4 relative) and the same greedy text
#   resume       on the GPU, a run killed part-way and resumed logs the uninterrupted run's losses
#   bench        bench_train on configs/gpt2-124m.yaml in bf16: tokens/s and MFU
#   ctest        the whole suite with the GPU visible (run.device=auto picks it)
# Phases after the build are skipped once GPU_CHECK_SECONDS (default 540) have passed.
#
# Usage: bash scripts/gpu_check.sh [OUT_DIR]   (OUT_DIR default $OUT or /tmp/gpu-check; logs there)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-${OUT:-/tmp/gpu-check}}
mkdir -p "$out"
budget=${GPU_CHECK_SECONDS:-540}
bin=$root/build-cuda/gptforge
work=$(mktemp -d /tmp/gpu-check.XXXXXX)
summary=$out/summary.txt
: >"$summary"

report() {  # NAME RC [DETAIL]
  local verdict=PASS
  (($2 == 0)) || verdict="FAIL (rc $2)"
  echo "gpu_check: $1: $verdict${3:+ $3}" | tee -a "$summary"
}
have_time() { ((SECONDS < budget)) || { echo "gpu_check: $1: skipped (past ${budget} s)" | tee -a "$summary"; return 1; }; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$summary"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$summary"

start=$SECONDS
bash scripts/gpu_build.sh >"$out/build.log" 2>&1
rc=$?
report build $rc "in $((SECONDS - start)) s"
((rc == 0)) || { tail -n 40 "$out/build.log"; exit 1; }
export LD_LIBRARY_PATH=$root/.debs/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
"$bin" info --device cuda 2>&1 | tee -a "$summary"

if have_time cuda_tests; then
  build-cuda/gptforge_tests --gtest_filter='Cuda.*' >"$out/cuda_tests.log" 2>&1
  rc=$?
  report cuda_tests $rc "$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/cuda_tests.log" | tr '\n' ' ')"
  ((rc == 0)) || tail -n 30 "$out/cuda_tests.log"
fi

# A corpus from the repository's own text (no download there): prose and code, about 1.5 MB.
cat README.md docs/*.md src/*/*.cpp src/*/*.h >"$work/corpus.txt"
common=(tokenizer.model_prefix="$work/tok" tokenizer.vocab_size=1024
        data.inputs="$work/corpus.txt" data.tokenizer="$work/tok.model" data.out_dir="$work/shards"
        data.val_fraction=0.05 train.data_dir="$work/shards" model.block_size=128 model.n_layer=4
        model.n_head=4 model.d_model=192 train.batch_size=32 train.max_minutes=0 train.learning_rate=0.003
        train.warmup_steps=20 train.eval_interval=100 train.eval_batches=8 train.log_interval=50
        sample.prompt= run.log_level=info)
"$bin" tokenizer train "${common[@]}" >"$out/data.log" 2>&1 && "$bin" prepare "${common[@]}" >>"$out/data.log" 2>&1
report data $?

# Final (last logged) training loss of a run directory's metrics.
last_loss() { python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows=[r for r in rows if "loss" in r]
print(rows[-1]["loss"], rows[0]["loss"], rows[-1].get("step"))' "$1/metrics.jsonl"; }

if have_time train; then
  ok=0
  for precision in fp32 bf16; do
    "$bin" train "${common[@]}" run.device=cuda train.precision=$precision train.max_steps=300 \
      train.out_dir="$work/run-$precision" --force >"$out/train-$precision.log" 2>&1 || ok=1
    read -r final first step < <(last_loss "$work/run-$precision") || ok=1
    echo "train $precision: loss $first -> $final at step $step; $(grep -oE '[^ ]+ tok/s mfu [0-9.]+%' "$out/train-$precision.log" | tail -n 1)" | tee -a "$summary"
    python3 -c "import sys; sys.exit(0 if float('$final') < 0.6 * float('$first') else 1)" || ok=1
  done
  report train $ok
fi

if have_time cpu_vs_cuda; then
  ok=0
  ck=$work/run-fp32
  for dev in cuda cpu; do
    "$bin" eval --checkpoint "$ck" --text "$work/corpus.txt" --json "$work/eval-$dev.json" run.device=$dev \
      >"$out/eval-$dev.log" 2>&1 || ok=1
    "$bin" sample --checkpoint "$ck" --prompt "The model" --no-echo run.device=$dev sample.temperature=0 \
      sample.max_new_tokens=48 >"$work/sample-$dev.txt" 2>"$out/sample-$dev.log" || ok=1
  done
  python3 - "$work" <<'EOF' | tee -a "$summary" || ok=1
import json, sys
w = sys.argv[1]
def bpb(dev):
    j = json.load(open(f"{w}/eval-{dev}.json"))
    return j["results"][0]["bits_per_byte"]
g, c = bpb("cuda"), bpb("cpu")
same = open(f"{w}/sample-cuda.txt").read() == open(f"{w}/sample-cpu.txt").read()
print(f"cpu_vs_cuda: bits/byte cuda {g:.6f} cpu {c:.6f}; greedy text {'identical' if same else 'DIFFERS'}")
sys.exit(0 if abs(g - c) <= 1e-4 * c and same else 1)
EOF
  report cpu_vs_cuda $ok
  head -c 300 "$work/sample-cuda.txt" >>"$summary"; echo >>"$summary"
fi

if have_time resume; then
  # As tests/cli/train_resume.sh on the CPU: a run killed with SIGKILL part-way and resumed logs the
  # same loss at every step as the uninterrupted one.
  ok=0
  r=("${common[@]}" run.device=cuda train.precision=fp32 train.max_steps=200 train.checkpoint_interval=20
     train.log_interval=1 train.eval_interval=1000)
  "$bin" train "${r[@]}" train.out_dir="$work/straight" --force >"$out/resume.log" 2>&1 || ok=1
  "$bin" train "${r[@]}" train.out_dir="$work/parts" --force >>"$out/resume.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 3000); do
    [[ -f $work/parts/metrics.jsonl ]] && (($(grep -c '"loss"' "$work/parts/metrics.jsonl") >= 90)) && break
    sleep 0.01
  done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  killed_at=$(grep -c '"loss"' "$work/parts/metrics.jsonl")
  "$bin" train "${r[@]}" train.out_dir="$work/parts" --resume >>"$out/resume.log" 2>&1 || ok=1
  extract() { grep '"loss"' "$1" | sed -E 's/.*"loss":([^,}]*).*"step":([0-9]+).*/\2 \1/' | sort -n; }
  extract "$work/straight/metrics.jsonl" >"$work/straight.losses"
  extract "$work/parts/metrics.jsonl" >"$work/parts.losses"
  differing=$(diff "$work/straight.losses" "$work/parts.losses" | grep -c '^<')
  echo "resume: killed after $killed_at logged steps; $differing of $(wc -l <"$work/straight.losses") steps differ" | tee -a "$summary"
  ((killed_at < 200 && differing == 0)) || ok=1
  report resume $ok
fi

if have_time bench; then
  build-cuda/bench_train --config configs/gpt2-124m.yaml --data "$work/bench" --warmup 5 --steps 20 \
    run.device=cuda train.precision=bf16 >"$out/bench.log" 2>&1
  report bench $? "$(grep -iE 'tokens/s|mfu' "$out/bench.log" | tr '\n' ' ' | tr -s ' ')"
fi

if have_time ctest; then
  ctest --test-dir build-cuda -j 8 --timeout 300 >"$out/ctest.log" 2>&1
  rc=$?
  report ctest $rc "$(grep -E 'tests passed|tests failed' "$out/ctest.log")"
  ((rc == 0)) || grep -E '^\s+[0-9]+ - ' "$out/ctest.log" | tee -a "$summary"
fi
echo "gpu_check: done in $SECONDS s"
