# Shared by the tests/cli/serve*.sh scripts (sourced after lib.bash; not a test itself): a tiny real
# model trained through the CLI, a `gptforge serve` on a free loopback port that is killed when the
# script exits, and JSON helpers.

# Trains the tiny model of sample_chat_probe.sh into run/ (about 20 s on one thread).
train_tiny_model() {
  mkdir corpus
  awk 'BEGIN {
    split("the quick brown fox jumps over lazy dog and then runs into a forest where trees grow tall", w, " ");
    srand(11);
    for (p = 0; p < 60; p++) {
      line = "";
      for (i = 0; i < 50; i++) line = line (i ? " " : "") w[int(rand() * 17) + 1];
      print line "." > "corpus/c.txt"; print "" > "corpus/c.txt";
    }
  }'
  "$BIN" tokenizer train --config "$SRC/configs/brown-data.yaml" tokenizer.inputs=corpus tokenizer.vocab_size=300 \
    tokenizer.model_prefix=tok/bpe run.log_level=quiet >/dev/null
  "$BIN" prepare --config "$SRC/configs/brown-data.yaml" data.inputs=corpus data.tokenizer=tok/bpe.model \
    data.documents=paragraph data.out_dir=shards data.val_fraction=0.1 run.progress=off run.log_level=quiet >/dev/null
  "$BIN" train train.data_dir=shards train.out_dir=run model.n_layer=2 model.n_head=2 model.d_model=32 \
    model.block_size=32 train.batch_size=8 train.max_steps=40 train.warmup_steps=5 train.learning_rate=0.01 \
    train.eval_interval=0 train.eval_batches=2 train.checkpoint_interval=0 run.progress=off run.log_level=quiet \
    run.threads=1 >train.txt
  [[ -e run/latest/model.safetensors ]] || fail "train wrote no checkpoint: $(cat train.txt)"
}

SERVER_PIDS=()
stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'stop_servers; rm -rf "$WORK"' EXIT

# start_server NAME [serve args...]: starts `gptforge serve --checkpoint run --port 0 ...` with its
# log in NAME.log, waits (at most 60 s) for the line with its address, and sets URL.
start_server() {
  local name="$1"
  shift
  : >"$name.log"
  "$BIN" serve --checkpoint run --port 0 run.threads=1 "$@" 2>"$name.log" &
  SERVER_PIDS+=($!)
  local i
  for ((i = 0; i < 600; i++)); do
    if grep -q "on http://" "$name.log"; then
      URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$name.log" | head -n 1)
      return 0
    fi
    kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null || fail "serve exited: $(cat "$name.log")"
    sleep 0.1
  done
  fail "serve did not start in 60 s: $(cat "$name.log")"
}

# json_get FILE EXPR: prints the Python expression EXPR over the parsed JSON `j` of FILE.
json_get() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
