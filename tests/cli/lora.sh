#!/usr/bin/env bash
# LoRA from the command line: `sft` with lora.rank trains adapters and `--resume` continues them,
# `lora merge` writes a plain checkpoint that samples exactly as the LoRA checkpoint does, export
# takes a LoRA checkpoint, and a bad lora key is a config error (exit 2) naming the key.
# Usage: bash lora.sh PATH/TO/gptforge SOURCE_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
source "$(dirname "$0")/lib.bash"  # WORK (the current directory), fail, expect_exit

# ---- A tiny base model and the task suite ----
source "$(dirname "$0")/tiny_data.bash"
tiny_data "$BIN" 60 run.progress=off
"$BIN" train "${common[@]}" train.data_dir=shards train.out_dir=base model.n_layer=2 model.n_head=2 model.d_model=32 \
  model.block_size=64 train.batch_size=4 train.max_steps=4 train.warmup_steps=1 train.eval_interval=0 \
  train.eval_batches=1 train.checkpoint_interval=0 >/dev/null 2>&1 || fail "train"
"$BIN" tasks --out tasks --train 10 --test 2 >/dev/null || fail "tasks"

sft=(sft "${common[@]}" train.init_from=base sft.train_file=tasks/train.jsonl train.batch_size=4 train.warmup_steps=1
     train.eval_interval=0 train.eval_batches=1 train.checkpoint_interval=3 train.log_interval=1
     lora.rank=2 lora.alpha=4 "lora.targets=[q, v, o, fc, proj]" train.learning_rate=0.05)

# ---- sft with adapters, then --resume for three more steps ----
"$BIN" "${sft[@]}" train.out_dir=lora train.max_steps=3 >sft.out 2>sft.err || fail "sft: $(cat sft.err)"
[[ -f lora/latest/adapter_model.safetensors ]] || fail "no adapter_model.safetensors in $(ls lora/latest)"
"$BIN" "${sft[@]}" train.out_dir=lora train.max_steps=6 --resume >resume.out 2>resume.err ||
  fail "sft --resume: $(cat resume.err)"
python3 - lora/latest <<'PY' || fail "the LoRA checkpoint's files"
import json, struct, sys
d = sys.argv[1]
def names(f):
    with open(f"{d}/{f}", "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        return [k for k in json.loads(fh.read(n)) if k != "__metadata__"]
assert not any("lora" in n for n in names("model.safetensors")), names("model.safetensors")
adapters = names("adapter_model.safetensors")
assert "base_model.model.transformer.h.0.attn.c_proj.lora_A.weight" in adapters, adapters
assert "h.1.attn.q_proj.lora_B.weight" in adapters, adapters
assert len(adapters) == 2 * 5 * 2, adapters
assert json.load(open(f"{d}/trainer_state.json"))["step"] == 6
PY

# ---- lora merge: a plain checkpoint that samples what the LoRA checkpoint samples ----
"$BIN" lora merge --checkpoint lora --out merged >merge.out 2>merge.err || fail "lora merge: $(cat merge.err)"
[[ -f merged/latest/model.safetensors && ! -e merged/latest/adapter_model.safetensors ]] || fail "merged: $(ls merged/latest)"
grep -q "^  rank: 0" merged/latest/config.yaml || fail "merged config keeps lora.rank: $(grep -A2 '^lora' merged/latest/config.yaml)"
s=(sample run.threads=1 --prompt "the cat" sample.temperature=0 sample.max_new_tokens=12)
"$BIN" "${s[@]}" --checkpoint lora >a.txt 2>/dev/null || fail "sample lora"
"$BIN" "${s[@]}" --checkpoint merged >b.txt 2>/dev/null || fail "sample merged"
cmp -s a.txt b.txt || fail "greedy samples differ: $(cat a.txt) vs $(cat b.txt)"
"$BIN" export --checkpoint lora --format hf --out hf >/dev/null 2>export.err || fail "export: $(cat export.err)"
expect_exit 2 "already holds checkpoints" -- "$BIN" lora merge --checkpoint lora --out merged
"$BIN" lora merge --checkpoint lora --out merged --force >/dev/null 2>&1 || fail "lora merge --force over an earlier merge"
expect_exit 2 "holds a training run" -- "$BIN" lora merge --checkpoint lora --out base --force
[[ -e base/latest/trainer_state.json ]] || fail "lora merge --force replaced the training run in base"
expect_exit 1 "has no LoRA adapters" -- "$BIN" lora merge --checkpoint merged --out again

# ---- Bad keys: exit 2, naming the key ----
expect_exit 2 "lora.targets" -- "$BIN" "${sft[@]}" train.out_dir=bad train.max_steps=1 "lora.targets=[gate]"
expect_exit 2 "lora.rank" -- "$BIN" "${sft[@]}" train.out_dir=bad train.max_steps=1 lora.rank=-2
expect_exit 2 "lora.rank=2 needs train.init_from" -- "$BIN" train "${common[@]}" train.data_dir=shards \
  train.out_dir=bad_no_init model.n_layer=1 model.n_head=2 model.d_model=16 train.max_steps=1 lora.rank=2
[[ ! -e bad_no_init ]] || fail "a refused LoRA run made its train.out_dir"
[[ ! -e bad/latest ]] || fail "a refused run wrote a checkpoint"
echo "lora: ok"
