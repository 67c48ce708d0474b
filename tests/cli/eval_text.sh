#!/usr/bin/env bash
# `gptforge eval --text`: two tiny checkpoints with different tokenizers scored on the same text, one
# row each, --json, the stride key, and the errors a user meets (with their exit codes).
# Usage: bash eval_text.sh PATH/TO/gptforge SOURCE_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
source "$(dirname "$0")/lib.bash"  # WORK (the current directory), fail, expect_exit

# ---- Two tiny real models, each with a tokenizer of its own ----
pseudo_text_corpus 7 40 40
for v in 320 300; do
  "$BIN" tokenizer train --config "$SRC/configs/brown-data.yaml" data.inputs=corpus tokenizer.vocab_size=$v \
    tokenizer.model_prefix=tok$v/bpe run.log_level=quiet >/dev/null
  "$BIN" prepare --config "$SRC/configs/brown-data.yaml" data.inputs=corpus data.tokenizer=tok$v/bpe.model \
    data.documents=paragraph data.out_dir=shards$v data.val_fraction=0.1 run.progress=off run.log_level=quiet >/dev/null
  "$BIN" train train.data_dir=shards$v train.out_dir=run$v model.n_layer=1 model.n_head=2 model.d_model=16 \
    model.block_size=16 train.batch_size=4 train.max_steps=3 train.warmup_steps=1 train.eval_interval=0 \
    train.eval_batches=1 train.checkpoint_interval=0 run.progress=off run.log_level=quiet run.threads=1 >/dev/null
  [[ -e run$v/latest/model.safetensors ]] || fail "train wrote no checkpoint for vocab $v"
done
head -n 6 corpus/c.txt >text.txt
printf '{"text": "the quick brown fox."}\n{"text": "a lazy dog runs."}\n' >text.jsonl

# Overrides before --checkpoint: CLI11 hands a repeatable option every argument after it.
E=("$BIN" eval run.threads=1 run.progress=off --checkpoint run320 --checkpoint run300)

# ---- One row per checkpoint, and --json with the same figures ----
"${E[@]}" --text text.txt text.jsonl --json out.json >table.txt 2>err.txt || fail "eval --text failed: $(cat err.txt)"
head -n 1 table.txt | grep -q "bits/byte" || fail "no header: $(cat table.txt)"
[[ $(wc -l <table.txt) == 3 ]] || fail "expected a header and 2 rows: $(cat table.txt)"
grep -q "^run320 " table.txt && grep -q "^run300 " table.txt || fail "rows do not name the checkpoints: $(cat table.txt)"
python3 - <<'EOF' || fail "out.json: $(cat out.json)"
import json, math
d = json.load(open("out.json"))
rows = d["results"]
assert [r["checkpoint"] for r in rows] == ["run320", "run300"], rows
assert d["documents"] == 5, d  # 3 paragraphs + 2 JSONL records
assert rows[0]["tokens"] != rows[1]["tokens"], "different tokenizers should give different token counts"
for r in rows:
    assert r["context"] == 16 and r["stride"] == 16, r
    assert r["scored_tokens"] == r["tokens"] - 1, r
    assert abs(r["loss"] - r["loss_nats_sum"] / r["scored_tokens"]) < 1e-9, r
    assert abs(r["perplexity"] - math.exp(r["loss"])) < 1e-6 * r["perplexity"], r
    bpb = r["loss"] / math.log(2) * r["tokens"] / d["bytes"]
    assert abs(r["bits_per_byte"] - bpb) < 1e-9, r
# The table prints the JSON's figures.
table = [l.split() for l in open("table.txt").read().splitlines()[1:]]
for row, r in zip(table, rows):
    assert int(row[3]) == r["tokens"] and abs(float(row[6]) - r["bits_per_byte"]) < 1e-4, (row, r)
EOF

# ---- eval.stride: a smaller stride scores the same tokens with more context ----
"${E[@]}" --text text.txt eval.stride=4 eval.batch_size=3 --json s4.json >/dev/null 2>err.txt || fail "stride 4: $(cat err.txt)"
python3 -c 'import json; r = json.load(open("s4.json"))["results"][0]; assert r["stride"] == 4 and r["scored_tokens"] == r["tokens"] - 1, r' \
  || fail "stride 4: $(cat s4.json)"

# ---- Errors: one line naming the file or key, exit 1 for data and checkpoints, 2 for usage ----
: >empty.txt
printf '\n   \n\n' >blank.txt
mkdir adir notacheckpoint
expect_exit 1 "missing.txt" -- "${E[@]}" --text text.txt missing.txt --json bad.json
expect_exit 1 "adir" -- "${E[@]}" --text adir
expect_exit 1 "empty.txt" -- "${E[@]}" --text empty.txt
expect_exit 1 "blank.txt" -- "${E[@]}" --text blank.txt
expect_exit 1 "notacheckpoint" -- "$BIN" eval --checkpoint notacheckpoint --text text.txt
expect_exit 2 "eval.stride" -- "${E[@]}" --text text.txt eval.stride=17
expect_exit 2 "exactly one of --tasks" -- "${E[@]}" --text text.txt --tasks text.jsonl
expect_exit 2 "exactly one of --tasks" -- "${E[@]}"
[[ $(wc -l <err.txt) == 1 ]] || fail "the usage error is not one line: $(cat err.txt)"
[[ ! -e bad.json ]] || fail "a failed eval wrote its --json file"
echo "eval_text: ok"
