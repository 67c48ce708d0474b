# Shared by the tests/cli/*.sh scripts that train (sourced; not a test itself): a synthetic corpus,
# a 300-piece tokenizer and its shards in the current directory, for models small enough to train in
# seconds. Sets `common`, the overrides every later command of the script passes.
# Usage: tiny_data BIN PARAGRAPHS [override...]   (needs `fail`)
tiny_data() {
  local bin=$1 paragraphs=$2
  shift 2
  local words=(the cat dog sat ran on mat log big small red blue and then a over under house tree) p w line
  for p in $(seq 1 "$paragraphs"); do
    line=""
    for w in $(seq 1 40); do line+="${words[$(( (p * 7 + w * w) % ${#words[@]} ))]} "; done
    printf '%s.\n\n' "$line" >> corpus.txt
  done
  common=(tokenizer.model_prefix=tok tokenizer.vocab_size=300
          data.inputs=corpus.txt data.tokenizer=tok.model data.out_dir=shards data.val_fraction=0.1
          run.threads=1 run.log_level=quiet "$@")
  "$bin" tokenizer train "${common[@]}" >/dev/null 2>&1 || fail "tokenizer train"
  "$bin" prepare "${common[@]}" >/dev/null 2>&1 || fail "prepare"
}
