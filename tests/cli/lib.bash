# Shared by the tests/cli/*.sh scripts (sourced; not a test itself): a scratch directory that the
# script runs in and that is removed on exit, `fail`, `expect_exit`, `pseudo_text_corpus` and
# `train_tiny_model`.
# Usage, after `set -euo pipefail`:  source "$(dirname "$0")/lib.bash"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE PATTERN -- command...: runs the command, checks its exit code and that stderr names PATTERN.
expect_exit() {
  local code="$1" pattern="$2"
  shift 3
  set +e
  "$@" >out.txt 2>err.txt
  local rc=$?
  set -e
  [[ $rc == "$code" ]] || { cat err.txt >&2; fail "'$*' exited $rc, expected $code"; }
  grep -qF -- "$pattern" err.txt || { cat err.txt >&2; fail "'$*': stderr does not name '$pattern'"; }
}

# pseudo_text_corpus SEED PARAGRAPHS WORDS: corpus/c.txt, paragraphs of pseudo-random words from a
# 17-word vocabulary, one sentence each, separated by blank lines (awk's srand: the same text every run).
pseudo_text_corpus() {
  mkdir -p corpus
  awk -v seed="$1" -v paragraphs="$2" -v words="$3" 'BEGIN {
    split("the quick brown fox jumps over lazy dog and then runs into a forest where trees grow tall", w, " ");
    srand(seed);
    for (p = 0; p < paragraphs; p++) {
      line = "";
      for (i = 0; i < words; i++) line = line (i ? " " : "") w[int(rand() * 17) + 1];
      print line "." > "corpus/c.txt"; print "" > "corpus/c.txt";
    }
  }'
}

# train_tiny_model: a 300-piece BPE (tok/bpe.model), shards and a 2-layer model trained 40 steps
# into run/ (about 20 s on one thread). Needs BIN and SRC.
train_tiny_model() {
  pseudo_text_corpus 11 60 50
  "$BIN" tokenizer train --config "$SRC/configs/brown-data.yaml" data.inputs=corpus tokenizer.vocab_size=300 \
    tokenizer.model_prefix=tok/bpe run.log_level=quiet >/dev/null
  "$BIN" prepare --config "$SRC/configs/brown-data.yaml" data.inputs=corpus data.tokenizer=tok/bpe.model \
    data.documents=paragraph data.out_dir=shards data.val_fraction=0.1 run.progress=off run.log_level=quiet >/dev/null
  "$BIN" train train.data_dir=shards train.out_dir=run model.n_layer=2 model.n_head=2 model.d_model=32 \
    model.block_size=32 train.batch_size=8 train.max_steps=40 train.warmup_steps=5 train.learning_rate=0.01 \
    train.eval_interval=0 train.eval_batches=2 train.checkpoint_interval=0 run.progress=off run.log_level=quiet \
    run.threads=1 >train.txt
  [[ -e run/latest/model.safetensors ]] || fail "train wrote no checkpoint: $(cat train.txt)"
}

# "STEP LOSS" lines of a metrics.jsonl, sorted by step (nothing when no step was logged yet).
loss_by_step() { { grep '"loss"' "$1" || true; } | sed -E 's/.*"loss":([^,}]*).*"step":([0-9]+).*/\2 \1/' | sort -n; }

# The hidden entries of a run directory: what killed saves may leave (.tmp-*, .old-*, .trash-*).
hidden_entries() { ls -A "$1" | grep '^\.' || true; }

# all_checkpoints_load BIN RUN_DIR: fails unless every step_* checkpoint in RUN_DIR loads (manifest,
# sizes, checksums, weights) and samples a token.
all_checkpoints_load() {
  local d
  shopt -s nullglob
  for d in "$2"/step_*; do
    "$1" sample --checkpoint "$d" --prompt the sample.max_new_tokens=1 run.threads=1 >/dev/null 2>err.txt ||
      fail "$d does not load: $(cat err.txt)"
  done
}
