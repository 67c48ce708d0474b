#!/usr/bin/env bash
# The load benchmark of `gptforge serve`: starts the server on a free loopback port with
# serve.max_batch = the number of clients, runs bench/serve_load.mjs against it, stops it.
# Usage: bash bench/serve_load.sh CHECKPOINT [--clients 32] [--seconds 60] [--single-seconds 30] [...]
#   e.g. bash bench/serve_load.sh checkpoints/tiny --json bench/results/serve_load.json
# Needs build/gptforge (BIN=... to use another) and node.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$root/build/gptforge}
ckpt=${1:?usage: bench/serve_load.sh CHECKPOINT [serve_load.mjs options]}
shift
clients=32
for ((i = 1; i <= $#; i++)); do
  [[ ${!i} == --clients ]] && { j=$((i + 1)); clients=${!j}; }
done
log=$(mktemp)
"$bin" serve --checkpoint "$ckpt" --port 0 serve.max_batch="$clients" serve.queue_size=$((clients * 2)) 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for ((i = 0; i < 600; i++)); do
  grep -q "on http://" "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -n 1)
[[ -n $url ]] || { echo "serve did not start: $(cat "$log")" >&2; exit 1; }
node "$root/bench/serve_load.mjs" "$url" --clients "$clients" "$@"
