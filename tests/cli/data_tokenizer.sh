#!/usr/bin/env bash
# `train` loads and checks the data directory's tokenizer before the first step (issue 18, item 7):
# a broken tokenizer.model, or one that does not match meta.json (vocabulary size, EOS id), is one
# line naming the file, rc 1 (a data error; a model.vocab_size that differs is a config error, rc 2),
# and train.out_dir is never created. The same data with its own tokenizer trains, and the
# checkpoint carries that tokenizer byte for byte.
set -euo pipefail
bin=$1
source "$(dirname "$0")/lib.bash"

source "$(dirname "$0")/tiny_data.bash"
tiny_data "$bin" 40
train=("${common[@]}" model.n_layer=1 model.n_head=2 model.d_model=16 model.block_size=16 train.batch_size=2
       train.max_steps=2 train.eval_batches=1 train.checkpoint_interval=0)

# A copy of the shards with one thing changed; trains into out_<name>, which must not appear.
refused() {  # name code pattern
  local name=$1 code=$2 pattern=$3
  expect_exit "$code" "$pattern" -- "$bin" train "${train[@]}" train.data_dir="d_$name" train.out_dir="out_$name"
  [[ $(wc -l < err.txt) == 1 ]] || fail "$name: more than one line on stderr: $(cat err.txt)"
  [[ ! -e out_$name ]] || fail "$name: train.out_dir was created: $(ls -A "out_$name")"
}
variant() { rm -rf "d_$1"; cp -r shards "d_$1"; }

variant garbage
printf 'not a sentencepiece model at all\n' > d_garbage/tokenizer.model
refused garbage 1 "d_garbage/tokenizer.model: not a sentencepiece model"

variant truncated
head -c 1000 shards/tokenizer.model > d_truncated/tokenizer.model
refused truncated 1 "d_truncated/tokenizer.model: not a sentencepiece model"

variant empty
: > d_empty/tokenizer.model
refused empty 1 "d_empty/tokenizer.model: not a sentencepiece model"

variant missing
rm d_missing/tokenizer.model
refused missing 1 "d_missing/tokenizer.model: missing"

# Another real tokenizer (290 pieces) beside shards whose meta.json says 300.
"$bin" tokenizer train "${common[@]}" tokenizer.vocab_size=290 tokenizer.model_prefix=tok290 >/dev/null 2>&1 ||
  fail "tokenizer train 290"
variant other
cp tok290.model d_other/tokenizer.model
refused other 1 "d_other/tokenizer.model: 290 ids, but d_other/meta.json says vocab_size 300"

# meta.json edited to another vocabulary size, or another EOS id, than its tokenizer's.
variant meta_vocab
sed -i -E 's/"vocab_size": 300/"vocab_size": 295/' d_meta_vocab/meta.json
grep -q '"vocab_size": 295' d_meta_vocab/meta.json || fail "the meta.json edit did not apply"
refused meta_vocab 1 "d_meta_vocab/tokenizer.model: 300 ids, but d_meta_vocab/meta.json says vocab_size 295"
variant meta_eos
sed -i -E 's/"eos_id": 3/"eos_id": 2/' d_meta_eos/meta.json
refused meta_eos 1 "d_meta_eos/tokenizer.model: EOS is id 3, but d_meta_eos/meta.json says eos_id 2"

# The model's vocabulary against the tokenizer's: a config error.
variant model
expect_exit 2 "model.vocab_size (280) does not match the tokenizer's vocabulary (300)" -- \
  "$bin" train "${train[@]}" train.data_dir=d_model train.out_dir=out_model model.vocab_size=280
[[ ! -e out_model ]] || fail "model.vocab_size: train.out_dir was created"

# The intact data trains, and the checkpoint carries its tokenizer unchanged.
"$bin" train "${train[@]}" train.data_dir=shards train.out_dir=good >/dev/null 2>err.txt || fail "good data: $(cat err.txt)"
cmp -s shards/tokenizer.model good/latest/tokenizer.model || fail "the checkpoint's tokenizer differs from the data's"
echo "data_tokenizer: all checks passed"
