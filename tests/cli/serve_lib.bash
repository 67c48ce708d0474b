# Shared by the tests/cli/serve*.sh scripts (sourced after lib.bash, whose train_tiny_model makes the
# model; not a test itself): a `gptforge serve` on a free loopback port that is killed when the
# script exits, and JSON helpers.

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
