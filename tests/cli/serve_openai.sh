#!/usr/bin/env bash
# `gptforge serve` against the official OpenAI client for node (npm `openai`): completions, chat,
# streaming and errors (openai_client.mjs). The package is installed once into a cache outside the
# repository (${XDG_CACHE_HOME:-~/.cache}/gptforge-npm), never into the source tree. Skipped, with a
# message, only when node or npm is absent.
# Usage: bash serve_openai.sh PATH/TO/gptforge SOURCE_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.bash"
source "$HERE/serve_lib.bash"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIPPED: node and npm are needed for the OpenAI client test (scripts/setup.sh installs npm)"
  exit 0
fi
NPM_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/gptforge-npm"
if [[ ! -e $NPM_DIR/node_modules/openai/package.json ]]; then
  mkdir -p "$NPM_DIR"
  (cd "$NPM_DIR" && timeout 300 npm install --no-audit --no-fund --silent openai@4) ||
    fail "npm install openai@4 into $NPM_DIR failed"
fi

train_tiny_model
"$BIN" sample --checkpoint run run.threads=1 --prompt "the quick" --no-echo sample.temperature=0 \
  sample.max_new_tokens=20 >sample.txt 2>/dev/null
start_server main
NODE_PATH="$NPM_DIR/node_modules" timeout 120 node "$HERE/openai_client.mjs" "$URL" run sample.txt ||
  fail "the OpenAI client test failed (server log: $(tail -n 5 main.log))"
echo "ok"
