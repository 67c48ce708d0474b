#!/usr/bin/env bash
# The web chat page of `gptforge serve` in a real browser: headless Chromium, driven through the
# DevTools protocol by browser_chat.mjs (node built-ins only), opens the page with a message in its
# ?q= parameter, waits for the streamed reply and reads it from the DOM. The reply must be the text
# the API gives for the same conversation, and with "why this token" every token carries its top
# alternatives. Skipped, with a message, only when chromium or node is absent.
# Set GPTFORGE_SCREENSHOT=FILE.png to also save a screenshot of the page (docs/serve-chat.png).
# Usage: bash serve_browser.sh PATH/TO/gptforge SOURCE_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.bash"
source "$HERE/serve_lib.bash"
CHROMIUM=${CHROMIUM:-chromium}
if ! command -v "$CHROMIUM" >/dev/null || ! command -v node >/dev/null; then
  echo "SKIPPED: chromium and node are needed for the browser test (scripts/setup.sh installs them)"
  exit 0
fi

train_tiny_model
start_server main
# What the API answers for the conversation the page will send.
curl -sS --max-time 60 -H 'Content-Type: application/json' -o api.json "$URL/v1/chat/completions" \
  -d '{"messages": [{"role": "user", "content": "the fox"}], "max_tokens": 12, "temperature": 0}'

shot=()
[[ -n ${GPTFORGE_SCREENSHOT:-} ]] && shot=("$GPTFORGE_SCREENSHOT")
CHROMIUM=$CHROMIUM timeout 120 node --experimental-websocket --no-warnings "$HERE/browser_chat.mjs" \
  "$URL/?q=the%20fox&temperature=0&max_tokens=12&why=1" "${shot[@]}" >page.json ||
  fail "the browser test failed: $(cat page.json 2>/dev/null)"
python3 - page.json api.json <<'PY' || fail "the page shows something else: $(cat page.json)"
import json, sys, math
page, api = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert page["state"] == "done", page
assert page["errors"] == [], page["errors"]
assert page["user"] == ["the fox"], page["user"]
assert page["model"].startswith("run"), page["model"]
expected = api["choices"][0]["message"]["content"]
assert page["reply"] == expected, (page["reply"], expected)
assert page["finish"] == api["choices"][0]["finish_reason"], page["finish"]
# "why this token": one span per streamed token, each with 5 alternatives, most likely first; greedy
# picks the first.
assert len(page["tokens"]) > 0
assert "".join(t["text"] for t in page["tokens"]) == expected
for t in page["tokens"]:
    probs = [a["p"] for a in t["alts"]]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9, t
PY
echo "ok"
