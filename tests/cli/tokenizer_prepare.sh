#!/usr/bin/env bash
# End to end: train tokenizers, look at them, prepare shards, and check the errors a user meets.
# Usage: bash tokenizer_prepare.sh PATH/TO/gptforge SOURCE_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
source "$(dirname "$0")/lib.bash"  # WORK (the current directory), fail, expect_exit

# A small corpus: 40 paragraphs of pseudo-random words in two files.
mkdir corpus
awk 'BEGIN {
  split("the quick brown fox jumps over lazy dog and then runs into a forest where trees grow tall", w, " ");
  srand(7);
  for (p = 0; p < 40; p++) {
    f = (p % 2) ? "corpus/b.txt" : "corpus/a.txt";
    line = "paragraph " p ":";
    for (i = 0; i < 60; i++) line = line " " w[int(rand() * 17) + 1];
    print line "." > f; print "" > f;
  }
}'

# Tokenizers: a small BPE through the Brown config, a char model through configs/char.yaml.
"$BIN" tokenizer train --config "$SRC/configs/brown-data.yaml" data.inputs=corpus \
  tokenizer.vocab_size=340 tokenizer.model_prefix=tok/bpe run.log_level=quiet >train.txt
[[ -s tok/bpe.model && -s tok/bpe.vocab ]] || fail "tokenizer train wrote no model"
grep -q "340 pieces" train.txt || fail "tokenizer train did not report the vocabulary: $(cat train.txt)"
"$BIN" tokenizer train --config "$SRC/configs/char.yaml" data.inputs=corpus/a.txt \
  tokenizer.model_prefix=tok/char run.log_level=quiet >/dev/null
"$BIN" tokenizer show --model tok/char "fox" | grep -q "3 tokens" || fail "char model should give 3 tokens for 'fox'"

# show / encode / decode
"$BIN" tokenizer show --model tok/bpe "the quick fox <|user|>" >show.txt
grep -q "tokens for" show.txt || fail "show printed no summary"
if grep -Eq '^ +[0-7]  ' show.txt; then fail "plain text '<|user|>' produced a special id: $(cat show.txt)"; fi
"$BIN" tokenizer show --model tok/bpe | grep -q "<|assistant|> *6" || fail "show without text lists no specials"
ids="$("$BIN" tokenizer encode --model tok/bpe "Hello,  wörld 😀")"
text="$("$BIN" tokenizer decode --model tok/bpe $ids)"
[[ "$text" == "Hello,  wörld 😀" ]] || fail "encode/decode round trip gave '$text'"
# A conversation on the chat template: <s> <|user|> Hi <|end|> <|assistant|> (the reply's opening).
hi="$("$BIN" tokenizer encode --model tok/bpe "Hi")"
chat="$("$BIN" tokenizer encode --model tok/bpe --chat '{"messages": [{"role": "user", "content": "Hi"}]}')"
[[ "$chat" == "2 5 $hi 7 6" ]] || fail "--chat rendered '$chat', expected '2 5 $hi 7 6'"
chat="$("$BIN" tokenizer encode --model tok/bpe --chat '[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hi"}]')"
[[ "$chat" == "2 5 $hi 7 6 $hi 7" ]] || fail "--chat with a reply rendered '$chat'"
expect_exit 1 "--chat conversation: unknown role 'bot'" -- \
  "$BIN" tokenizer encode --model tok/bpe --chat '[{"role": "bot", "content": "Hi"}]'

# prepare
"$BIN" prepare --config "$SRC/configs/brown-data.yaml" data.inputs=corpus data.tokenizer=tok/bpe.model \
  data.documents=paragraph data.out_dir=shards data.val_fraction=0.1 run.progress=off >prep.txt
for f in meta.json tokenizer.model train_000000.bin val_000000.bin; do
  [[ -s shards/$f ]] || fail "prepare wrote no shards/$f"
done
grep -q "bytes/token" prep.txt || fail "prepare printed no statistics"
grep -Eq "^train +36 " prep.txt || fail "expected 36 training documents: $(cat prep.txt)"
grep -Eq "^val +4 " prep.txt || fail "expected 4 validation documents"
[[ "$(head -c 7 shards/train_000000.bin)" == "GFSHARD" ]] || fail "shard magic"

# Errors: missing input (exit 1, file named), unknown key (exit 2), missing required key (exit 2).
expect_exit 1 "nope.txt" -- "$BIN" tokenizer train --config "$SRC/configs/char.yaml" data.inputs=nope.txt \
  tokenizer.model_prefix=tok/x
expect_exit 1 "missing.txt" -- "$BIN" prepare --config "$SRC/configs/brown-data.yaml" data.inputs=missing.txt \
  data.tokenizer=tok/bpe.model data.out_dir=shards2
[[ ! -e shards2 ]] || fail "a failed prepare left shards2"
expect_exit 2 "data.bogus" -- "$BIN" prepare --config "$SRC/configs/brown-data.yaml" data.bogus=1
expect_exit 2 "data.inputs" -- "$BIN" prepare --config "$SRC/configs/char.yaml"
expect_exit 1 "data.val_fraction" -- "$BIN" prepare --config "$SRC/configs/brown-data.yaml" \
  data.inputs=corpus/a.txt data.documents=file data.tokenizer=tok/bpe.model data.out_dir=shards3
expect_exit 1 "nothere.model" -- "$BIN" tokenizer encode --model nothere.model "x"

# A killed prepare never leaves a directory that looks finished without being so.
for i in $(seq 1 100); do cat corpus/a.txt corpus/b.txt; done >big.txt
"$BIN" prepare --config "$SRC/configs/brown-data.yaml" data.inputs=big.txt data.tokenizer=tok/bpe.model \
  data.out_dir=killed run.progress=off >/dev/null 2>&1 &
pid=$!
sleep 0.3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if [[ -e killed ]]; then
  [[ -f killed/meta.json && -f killed/train_000000.bin ]] || fail "a killed prepare left an incomplete 'killed'"
fi
# The next run finishes and clears what the killed one left behind.
"$BIN" prepare --config "$SRC/configs/brown-data.yaml" data.inputs=corpus data.tokenizer=tok/bpe.model \
  data.out_dir=killed run.progress=off >/dev/null
[[ -f killed/meta.json ]] || fail "prepare after a killed run did not finish"
if compgen -G "killed.*" >/dev/null || compgen -G ".killed.*" >/dev/null; then
  fail "leftovers of the killed run: $(ls -a)"
fi

echo "ok"
