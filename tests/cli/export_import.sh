#!/usr/bin/env bash
# Export and import through the real executable: a tiny llama-family and gpt2-family model are
# trained for a few steps, exported to Hugging Face and GGUF, imported back, and every refusal is
# checked for its exit code, its message and the absence of half-written output.
# Usage: bash export_import.sh PATH/TO/gptforge SOURCE_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
source "$(dirname "$0")/lib.bash"  # WORK (the current directory), fail, expect_exit
# Here every refusal must also be one line on stderr.
expect_exit_one_line() {
  expect_exit "$@"
  [[ $(wc -l <err.txt) == 1 ]] || { cat err.txt >&2; fail "'${*:4}': expected one line on stderr"; }
}
no_leftovers() { if compgen -G ".*.tmp-*" >/dev/null || compgen -G "*/.*.tmp-*" >/dev/null; then fail "leftovers: $(ls -a)"; fi; }

# A tokenizer, shards, and two tiny models trained for 3 steps each.
mkdir corpus
awk 'BEGIN { srand(3); split("the a fox dog runs jumps over under big small red green tree house", w, " ");
  for (p = 0; p < 30; p++) { line = ""; for (i = 0; i < 80; i++) line = line " " w[int(rand() * 14) + 1];
  print line "." > "corpus/c.txt"; print "" > "corpus/c.txt" } }'
"$BIN" tokenizer train data.inputs=corpus tokenizer.vocab_size=300 tokenizer.model_prefix=tok/t \
  run.log_level=quiet >/dev/null
"$BIN" prepare data.inputs=corpus data.tokenizer=tok/t.model data.out_dir=shards data.val_fraction=0.1 \
  run.progress=off run.log_level=quiet >/dev/null
train() {
  "$BIN" train train.data_dir=shards train.out_dir="$1" model.family="$2" model.n_layer=2 model.n_head=4 \
    model.d_model=32 model.block_size=32 train.batch_size=2 train.max_steps=3 train.warmup_steps=1 \
    train.eval_interval=0 train.eval_batches=1 train.checkpoint_interval=0 run.progress=off run.log_level=quiet \
    run.threads=1 "${@:3}" >/dev/null
}
train run-llama llama model.n_kv_head=2
train run-gpt2 gpt2
train run-sin custom model.position=sinusoidal train.max_steps=1

# Hugging Face: export, import, export again: the weights file is byte-identical.
"$BIN" export --checkpoint run-llama --format hf --out hf-llama --reference-logits ref.json >out.txt
grep -q "LlamaForCausalLM" out.txt || fail "export did not report the architecture: $(cat out.txt)"
for f in model.safetensors config.json generation_config.json tokenizer.model tokenizer_config.json \
  special_tokens_map.json; do [[ -s hf-llama/$f ]] || fail "hf export lacks $f"; done
grep -q '"input_ids"' ref.json || fail "reference logits file has no input_ids"
"$BIN" import --from hf-llama --out imported >out.txt
grep -q "imported hf-llama (LlamaForCausalLM" out.txt || fail "import summary: $(cat out.txt)"
"$BIN" export --checkpoint imported --format hf --out hf-again >/dev/null
cmp -s hf-llama/model.safetensors hf-again/model.safetensors || fail "export(import(export)) changed the weights"
cmp -s hf-llama/config.json hf-again/config.json || fail "export(import(export)) changed config.json"
# The imported checkpoint fine-tunes like any other (same model keys as run-llama).
train run-ft llama model.n_kv_head=2 train.init_from=imported train.max_steps=1
[[ -f run-ft/latest/model.safetensors ]] || fail "fine-tuning from an imported checkpoint wrote no checkpoint"
"$BIN" export --checkpoint run-gpt2 --format hf --out hf-gpt2 --dtype f16 >out.txt
grep -q "GPT2LMHeadModel (f16" out.txt || fail "gpt2 export summary: $(cat out.txt)"
grep -q '"torch_dtype": "float16"' hf-gpt2/config.json || fail "f16 export config.json dtype"
"$BIN" import --from hf-gpt2 --out imported-gpt2 >/dev/null

# GGUF through the config file's export section.
printf 'export:\n  format: gguf\n  dtype: f16\n  out: model.gguf\n' >export.yaml
"$BIN" export --checkpoint run-llama --config export.yaml >/dev/null
[[ "$(head -c 4 model.gguf)" == "GGUF" ]] || fail "gguf magic"
"$BIN" export --checkpoint run-llama --format gguf --out model32.gguf >/dev/null
[[ $(stat -c %s model32.gguf) -gt $(stat -c %s model.gguf) ]] || fail "f32 gguf should be larger than f16"

# Refusals: one line, the right exit code, nothing half-written.
expect_exit_one_line 1 "nope: no such checkpoint" -- "$BIN" export --checkpoint nope --format hf --out x1
expect_exit_one_line 2 "export.dtype" -- "$BIN" export --checkpoint run-llama --format hf --out x2 --dtype f8
expect_exit_one_line 2 "already exists: pass --force" -- "$BIN" export --checkpoint run-llama --format hf --out hf-llama
"$BIN" export --checkpoint run-llama --format hf --out hf-llama --force >/dev/null
"$BIN" export --checkpoint run-gpt2 --format gguf --out gpt2.gguf >out.txt
grep -q "gguf:gpt2" out.txt || fail "gpt2 gguf export summary: $(cat out.txt)"
expect_exit_one_line 1 "gguf export needs model.position=learned (gpt2) or rope (llama); this model has sinusoidal" -- \
  "$BIN" export --checkpoint run-sin --format gguf --out x3.gguf
expect_exit_one_line 1 "hf export needs model.position=learned (gpt2) or rope (llama); this model has sinusoidal" -- \
  "$BIN" export --checkpoint run-sin --format hf --out x7
expect_exit_one_line 2 "export.out" -- "$BIN" export --checkpoint run-llama --format hf
expect_exit_one_line 2 "--format onnx: unknown export format" -- "$BIN" export --checkpoint run-llama --format onnx --out x8
expect_exit_one_line 2 "model32.gguf: a GGUF file; import reads a Hugging Face model directory" -- \
  "$BIN" import --from model32.gguf --out x9
mkdir bert && echo '{"architectures": ["BertForMaskedLM"], "model_type": "bert"}' >bert/config.json
expect_exit_one_line 1 "architectures [BertForMaskedLM]" -- "$BIN" import --from bert --out x4
expect_exit_one_line 1 "config.json: missing" -- "$BIN" import --from corpus --out x5
cp -r run-llama/latest/. partial && rm partial/tokenizer.model
expect_exit_one_line 1 "tokenizer.model: missing" -- "$BIN" export --checkpoint partial --format hf --out x6
for x in x1 x2 x3.gguf x4 x5 x6 x7 x8 x9; do [[ ! -e $x ]] || fail "a refused command left $x"; done
no_leftovers
echo "ok"
