#!/usr/bin/env bash
# `gptforge serve` end to end with curl: a tiny model trained here, a server on a free loopback
# port, every endpoint, streaming, errors, the API key, concurrent requests, and a client that
# leaves mid-stream. Run times are bounded (curl --max-time, bounded polls); the servers are killed
# at the end.
# Usage: bash serve.sh PATH/TO/gptforge SOURCE_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.bash"        # WORK (the current directory), fail, expect_exit
source "$HERE/serve_lib.bash"  # train_tiny_model, start_server (sets URL), json_get
command -v curl >/dev/null || fail "curl is needed (apt-get install curl)"
train_tiny_model

start_server main serve.max_batch=4
grep -q "http://127.0.0.1:" main.log || fail "the server does not bind to loopback by default: $(cat main.log)"
C=(curl -sS --max-time 60)
post() { "${C[@]}" -H 'Content-Type: application/json' -o "$1" -w '%{http_code}' -d "$3" "$URL$2"; }

# ---- health, models, the page ----
"${C[@]}" "$URL/health" >health.json
[[ $(json_get health.json 'j["status"]') == ok ]] || fail "health: $(cat health.json)"
"${C[@]}" "$URL/v1/models" >models.json
[[ $(json_get models.json 'j["data"][0]["id"]') == run ]] || fail "models: $(cat models.json)"
"${C[@]}" "$URL/" >page.html
grep -q "gptforge chat" page.html || fail "no chat page at /"

# ---- completions: greedy is `gptforge sample`'s greedy text ----
"$BIN" sample --checkpoint run run.threads=1 --prompt "the quick" --no-echo sample.temperature=0 \
  sample.max_new_tokens=20 >sample.txt 2>/dev/null
code=$(post c.json /v1/completions '{"prompt": "the quick", "max_tokens": 20, "temperature": 0}')
[[ $code == 200 ]] || fail "completions: $code $(cat c.json)"
[[ "$(json_get c.json 'j["choices"][0]["text"]')" == "$(cat sample.txt)" ]] ||
  fail "completion differs from gptforge sample: '$(json_get c.json 'j["choices"][0]["text"]')' vs '$(cat sample.txt)'"
[[ $(json_get c.json 'j["usage"]["prompt_tokens"] > 0 and j["usage"]["completion_tokens"] > 0') == True ]] ||
  fail "usage: $(cat c.json)"

# ---- streaming: chunks whose text adds up, usage, then [DONE] ----
"${C[@]}" -N -H 'Content-Type: application/json' \
  -d '{"prompt": "the quick", "max_tokens": 20, "temperature": 0, "stream": true}' "$URL/v1/completions" >s.txt
[[ $(grep -v '^$' s.txt | tail -n 1) == "data: [DONE]" ]] || fail "the stream does not end with [DONE]: $(tail -n 3 s.txt)"
python3 - s.txt c.json <<'PY' || fail "stream and completion differ"
import json, sys
events = [l[6:] for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: ")]
chunks = [json.loads(e) for e in events[:-1]]
text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
whole = json.load(open(sys.argv[2]))
assert text == whole["choices"][0]["text"], (text, whole)
assert chunks[-1]["usage"] == whole["usage"], (chunks[-1], whole["usage"])
PY

# ---- chat: the template, deltas, logprobs ----
code=$(post chat.json /v1/chat/completions \
  '{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "the fox"}], "max_tokens": 8, "logprobs": true, "top_logprobs": 3}')
[[ $code == 200 ]] || fail "chat: $code $(cat chat.json)"
[[ $(json_get chat.json 'j["choices"][0]["message"]["role"]') == assistant ]] || fail "chat: $(cat chat.json)"
[[ $(json_get chat.json 'all(len(t["top_logprobs"]) == 3 for t in j["choices"][0]["logprobs"]["content"])') == True ]] ||
  fail "chat logprobs: $(cat chat.json)"

# ---- tokenize / detokenize ----
post t.json /tokenize '{"content": "the quick brown fox"}' >/dev/null
post d.json /detokenize "{\"tokens\": $(json_get t.json 'j["tokens"]')}" >/dev/null
[[ $(json_get d.json 'j["content"]') == "the quick brown fox" ]] || fail "tokenize round trip: $(cat d.json)"

# ---- bad input: 400 naming the field; the server goes on ----
check_error() {  # STATUS PARAM PATH BODY
  local code
  code=$(post e.json "$3" "$4")
  [[ $code == "$1" ]] || fail "$4: status $code, expected $1: $(cat e.json)"
  [[ $(json_get e.json 'j["error"]["param"]') == "$2" ]] || fail "$4: error names $(cat e.json), expected $2"
}
check_error 400 None /v1/completions '{"prompt": "the", '
check_error 400 temperature /v1/completions '{"prompt": "the", "temperature": "hot"}'
check_error 400 top_p /v1/completions '{"prompt": "the", "top_p": 7}'
check_error 400 model /v1/completions '{"prompt": "the", "model": "gpt-4"}'
check_error 400 messages '/v1/chat/completions' '{"messages": "hi"}'
long=$(python3 -c 'print(" ".join(["fox"] * 200))')
check_error 400 prompt /v1/completions "{\"prompt\": \"$long\"}"
[[ $(json_get e.json 'j["error"]["code"]') == context_length_exceeded ]] || fail "long prompt: $(cat e.json)"
"${C[@]}" "$URL/health" >/dev/null || fail "the server stopped after bad input"

# ---- concurrent requests: each gets what it gets alone ----
prompts=("the" "the quick brown" "a forest where trees" "lazy dog and then runs into")
for i in "${!prompts[@]}"; do
  post "alone$i.json" /v1/completions "{\"prompt\": \"${prompts[$i]}\", \"max_tokens\": 40, \"temperature\": 0}" >/dev/null
done
for i in "${!prompts[@]}"; do
  post "together$i.json" /v1/completions "{\"prompt\": \"${prompts[$i]}\", \"max_tokens\": 40, \"temperature\": 0}" >/dev/null &
done
wait_clients() { local p; for p in $(jobs -p); do [[ " ${SERVER_PIDS[*]} " == *" $p "* ]] || wait "$p"; done; }
wait_clients
for i in "${!prompts[@]}"; do
  [[ $(json_get "alone$i.json" 'j["choices"][0]["text"]') == $(json_get "together$i.json" 'j["choices"][0]["text"]') ]] ||
    fail "prompt $i: alone and concurrent greedy differ"
done

# ---- a client that leaves mid-stream frees its slot ----
"${C[@]}" "$URL/health" >h0.json
cancelled0=$(json_get h0.json 'j["cancelled"]')
curl -sS -N --max-time 2 -H 'Content-Type: application/json' \
  -d '{"prompt": "the", "max_tokens": 10000000, "ignore_eos": true, "stream": true}' "$URL/v1/completions" >/dev/null 2>&1 || true
for ((i = 0; i < 100; i++)); do
  "${C[@]}" "$URL/health" >h1.json
  [[ $(json_get h1.json "j['cancelled'] > $cancelled0 and j['running'] == 0") == True ]] && break
  sleep 0.1
done
[[ $(json_get h1.json "j['cancelled'] > $cancelled0 and j['running'] == 0") == True ]] ||
  fail "a departed client's slot was not freed: $(cat h1.json)"

# ---- the API key ----
start_server keyed --api-key sekrit
code=$("${C[@]}" -o k.json -w '%{http_code}' -H 'Content-Type: application/json' -d '{"prompt": "the"}' "$URL/v1/completions")
[[ $code == 401 ]] || fail "no key: status $code"
code=$("${C[@]}" -o k.json -w '%{http_code}' -H 'Authorization: Bearer sekrit' -H 'Content-Type: application/json' \
  -d '{"prompt": "the", "max_tokens": 3}' "$URL/v1/completions")
[[ $code == 200 ]] || fail "with the key: status $code $(cat k.json)"

# ---- usage errors ----
expect_exit 2 "serve.port" -- "$BIN" serve --checkpoint run serve.port=70000
expect_exit 2 "serve.max_batch" -- "$BIN" serve --checkpoint run serve.max_batch=0
echo "ok"
