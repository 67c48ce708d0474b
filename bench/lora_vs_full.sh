#!/usr/bin/env bash
# LoRA against full fine-tuning on the task suite at the same wall-clock budget (issue 22's report):
# trains configs/sft-tasks.yaml and configs/sft-tasks-lora.yaml one after the other from the same base
# checkpoint for MINUTES each, evaluates both on the test split and prints one markdown table:
# accuracy, trainable parameters, optimiser state on disk (optimizer.pt: AdamW's two moments of the
# trainable parameters), peak resident memory of the training process, median step time and steps.
#
#   bash bench/lora_vs_full.sh [MINUTES]      (default 14, the README's budget; needs checkpoints/tiny)
#
# A timing benchmark: run it on a quiet machine (nothing else compiling or training), or the step
# times and therefore the step counts and accuracies are the machine's load, not the method's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
minutes=${1:-14}
bin=${GPTFORGE:-build/gptforge}
out=bench/results/lora_vs_full
mkdir -p "$out"
[ -d checkpoints/tiny ] || { echo "checkpoints/tiny is missing: gptforge train --config configs/tiny.yaml" >&2; exit 2; }
[ -f data/tasks/train.jsonl ] || "$bin" tasks --out data/tasks

run() {  # name config
  local name=$1 config=$2
  /usr/bin/time -v -o "$out/$name.time" "$bin" sft --config "$config" --force \
    train.max_minutes="$minutes" train.out_dir="checkpoints/bench-$name" 2>&1 | tee "$out/$name.log"
  "$bin" eval --checkpoint "checkpoints/bench-$name" --tasks data/tasks/test.jsonl sample.max_new_tokens=24 \
    | tee "$out/$name.eval.txt"
}
run full configs/sft-tasks.yaml
run lora configs/sft-tasks-lora.yaml

python3 - "$out" <<'PY'
import json, re, statistics, sys, os
out = sys.argv[1]
print("| run | accuracy | trainable parameters | optimizer.pt | peak RSS | median step | steps |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for name in ("full", "lora"):
    acc = re.search(r"^overall\s+(\S+%)", open(f"{out}/{name}.eval.txt").read(), re.M).group(1)
    log = open(f"{out}/{name}.log").read()
    m = re.search(r"lora: .*: (\S+) trainable parameters", log) or re.search(r"model: (\S+) parameters", log)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{out}/{name}.time").read()).group(1))
    ck = os.path.realpath(f"checkpoints/bench-{name}/latest")
    opt_mb = os.path.getsize(f"{ck}/optimizer.pt") / 1e6
    steps = [json.loads(l) for l in open(f"checkpoints/bench-{name}/metrics.jsonl") if '"loss"' in l]
    # Seconds per step between consecutive log lines (train.log_interval apart); the median leaves out
    # the intervals that held an evaluation or a checkpoint.
    dt = [(b["elapsed_s"] - a["elapsed_s"]) / (b["step"] - a["step"]) for a, b in zip(steps, steps[1:])
          if b["step"] > a["step"]]
    print(f"| {name} | {acc} | {m.group(1)} | {opt_mb:.2f} MB | {rss_kb / 1024:.0f} MiB | "
          f"{statistics.median(dt) * 1000:.1f} ms | {steps[-1]['step']} |")
PY
