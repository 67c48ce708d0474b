#!/usr/bin/env bash
# End to end: train a tiny model through the CLI, then sample from it, chat with it from a script,
# probe it (JSON + HTML), and check the errors a user meets.
# Usage: bash sample_chat_probe.sh PATH/TO/gptforge SOURCE_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
source "$(dirname "$0")/lib.bash"  # WORK (the current directory), fail, expect_exit

# ---- A tiny real model: tokenizer, shards, 40 training steps ----
train_tiny_model

S=("$BIN" sample --checkpoint run run.threads=1)

# ---- sample: streaming greedy, the prompt echoed, tokens/s on stderr ----
"${S[@]}" --prompt "the quick" sample.temperature=0 sample.max_new_tokens=40 >greedy.txt 2>err.txt
[[ "$(head -c 9 greedy.txt)" == "the quick" ]] || fail "sample does not echo the prompt: $(cat greedy.txt)"
(( $(wc -c <greedy.txt) > 20 )) || fail "sample generated almost nothing: $(cat greedy.txt)"
grep -q "tok/s" err.txt || fail "sample printed no tokens/s: $(cat err.txt)"
grep -q "prompt: 2 tokens\|prompt: [0-9]* tokens" err.txt || fail "no prompt statistics: $(cat err.txt)"
# A seed makes sampling reproducible (greedy is checked against --no-echo below).
"${S[@]}" --prompt "the" sample.temperature=1.0 sample.top_p=0.9 run.seed=5 sample.max_new_tokens=30 >s1.txt 2>/dev/null
"${S[@]}" --prompt "the" sample.temperature=1.0 sample.top_p=0.9 run.seed=5 sample.max_new_tokens=30 >s2.txt 2>/dev/null
cmp -s s1.txt s2.txt || fail "the same seed gave different samples"
# --no-echo, --prompt-file, an empty prompt (starts a fresh document)
printf 'the quick\n' >prompt.txt
"${S[@]}" --prompt-file prompt.txt --no-echo sample.temperature=0 sample.max_new_tokens=40 2>/dev/null >noecho.txt
[[ "the quick$(cat noecho.txt)" == "$(cat greedy.txt)" ]] || fail "--no-echo/--prompt-file: $(cat noecho.txt)"
"${S[@]}" --prompt "" sample.max_new_tokens=10 >/dev/null 2>err.txt || fail "empty prompt failed: $(cat err.txt)"
# Stop strings cut the text before them.
"${S[@]}" --prompt "the quick" --no-echo sample.temperature=0 sample.max_new_tokens=40 "sample.stop=[o]" \
  2>/dev/null >stop.txt
grep -q o noecho.txt || fail "the greedy text has no 'o' to stop at"
if grep -q o stop.txt; then fail "stop string 'o' appears in the output: $(cat stop.txt)"; fi
[[ "$(cat noecho.txt)" == "$(cat stop.txt)"o* ]] || fail "stop output is not the text before the first 'o'"
# Several samples, beam search.
"${S[@]}" --prompt "the" sample.num_samples=3 sample.max_new_tokens=8 >multi.txt 2>/dev/null
[[ $(grep -c "^--- sample" multi.txt) == 3 ]] || fail "num_samples=3 did not give 3 samples: $(cat multi.txt)"
# More samples than one batch holds (32): batch after batch, the first batch seeded as a single call, so
# the first 32 of 70 samples are exactly the 32 of num_samples=32 (one batch of 70 rows would draw
# them from another stream).
"${S[@]}" --prompt "the" sample.num_samples=70 sample.temperature=1.0 run.seed=3 sample.max_new_tokens=8 \
  >many.txt 2>/dev/null
"${S[@]}" --prompt "the" sample.num_samples=32 sample.temperature=1.0 run.seed=3 sample.max_new_tokens=8 \
  >batch.txt 2>/dev/null
[[ $(grep -c "^--- sample" many.txt) == 70 ]] || fail "num_samples=70 did not give 70 samples"
sed '/^--- sample 33 ---$/,$d' many.txt >many_first.txt
cmp -s many_first.txt batch.txt || fail "the first 32 of 70 samples are not those of num_samples=32: $(diff many_first.txt batch.txt | head -4)"
"${S[@]}" --prompt "the" sample.beam_width=3 sample.num_samples=2 sample.max_new_tokens=8 >beam.txt 2>/dev/null
[[ $(grep -c "^--- beam" beam.txt) == 2 ]] || fail "beam search did not give 2 beams: $(cat beam.txt)"

# Self-consistency: --vote prints the samples, then their most frequent answer.
"${S[@]}" --prompt "the" --no-echo --vote sample.num_samples=5 sample.temperature=0 sample.max_new_tokens=6 \
  >vote.txt 2>/dev/null || fail "sample --vote failed"
grep -q "^--- vote: 5 of 5 samples ---$" vote.txt || fail "greedy samples must vote 5 of 5: $(cat vote.txt)"
# Tools: the model never learned to call, so the reply is what it is without them; the markers would show.
"${S[@]}" --prompt "the quick" sample.temperature=0 sample.max_new_tokens=40 "sample.tools=[calc]" >tools.txt 2>err.txt ||
  fail "sample.tools=[calc] failed: $(cat err.txt)"

# ---- chat: scripted through standard input ----
printf 'hello there\n/system you are a fox\nhow are you\n/reset\n\nagain\n/quit\nnot read\n' |
  "$BIN" chat --checkpoint run sample.max_new_tokens=12 run.threads=1 >chat.txt 2>chat_err.txt ||
  fail "chat failed: $(cat chat_err.txt)"
[[ $(wc -l <chat.txt) == 3 ]] || fail "chat should print 3 replies (one line each): $(cat chat.txt)"
grep -q "system message set" chat_err.txt || fail "/system not acknowledged: $(cat chat_err.txt)"
grep -q "conversation cleared" chat_err.txt || fail "/reset not acknowledged"
if grep -q $'\x1b' chat.txt chat_err.txt; then fail "ANSI escapes without a terminal"; fi
printf 'hi\n' | "$BIN" chat --checkpoint run --system "be brief" sample.max_new_tokens=5 >/dev/null 2>&1 ||
  fail "chat --system failed"

# ---- probe: table, JSON, HTML ----
"$BIN" probe --checkpoint run --prompt "the quick brown fox" --top-k 3 --json p.json --html p.html \
  run.threads=1 >probe.txt 2>err.txt || fail "probe failed: $(cat err.txt)"
grep -q "entropy" probe.txt || fail "probe printed no table"
grep -q "logit lens" probe.txt || fail "probe printed no logit lens"
grep -q '"entropy_unit": "bits"' p.json || fail "JSON lacks the entropy unit"
grep -q '"logit_lens"' p.json && grep -q '"attention"' p.json || fail "JSON lacks lens or attention"
grep -q "<!DOCTYPE html>" p.html && grep -q "Logit lens" p.html || fail "HTML report incomplete"
if grep -Eq '(src|href)="(https?:)?//' p.html; then fail "the HTML report loads something from the network"; fi
# --chat --generate: the prompt as a user message, the reply generated and probed with it, each row
# marked with where its token came from.
"$BIN" probe --checkpoint run --prompt "hello" --chat --generate sample.temperature=0 sample.max_new_tokens=6 \
  "sample.tools=[calc]" --json pg.json run.threads=1 >probe_gen.txt 2>err.txt || fail "probe --generate failed: $(cat err.txt)"
grep -Eq '^ +[0-9]+  prompt +"<\|assistant' probe_gen.txt || fail "probe --chat has no <|assistant|> prompt row: $(cat probe_gen.txt)"
grep -Eq "^ +[0-9]+  model " probe_gen.txt || fail "probe --generate has no generated row: $(cat probe_gen.txt)"
grep -q '"origin": "model"' pg.json || fail "probe JSON lacks the origin of generated tokens"

# ---- Errors name the setting ----
expect_exit 2 "sample.top_p" -- "${S[@]}" --prompt x sample.top_p=0
expect_exit 2 "sample.temperature" -- "${S[@]}" --prompt x sample.temperature=-1
expect_exit 2 "sample.beam_width" -- "${S[@]}" --prompt x sample.beam_width=0
expect_exit 2 "sample.num_samples" -- "${S[@]}" --prompt x sample.beam_width=2 sample.num_samples=3
expect_exit 2 "sample.bogus" -- "${S[@]}" --prompt x sample.bogus=1
expect_exit 1 "nope" -- "$BIN" sample --checkpoint nope --prompt x
expect_exit 2 "--checkpoint" -- "$BIN" sample --prompt x
expect_exit 2 "--top-k" -- "$BIN" probe --checkpoint run --prompt x --top-k 0
expect_exit 2 "prompt" -- "$BIN" probe --checkpoint run
expect_exit 2 "sample.tools" -- "${S[@]}" --prompt x "sample.tools=[shell]"
expect_exit 2 "sample.tools" -- "${S[@]}" --prompt x "sample.tools=[calc]" sample.beam_width=2
expect_exit 2 "sample.num_samples" -- "${S[@]}" --prompt x --vote
expect_exit 2 "--ignore-case" -- "${S[@]}" --prompt x --ignore-case

echo "ok"
