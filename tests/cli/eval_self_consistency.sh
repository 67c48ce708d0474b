#!/usr/bin/env bash
# `gptforge eval --tasks F --self-consistency N`: the table with greedy, single-sample and voted
# columns, --json and --predictions with every sample, top_k=1 (every sample greedy: the three
# accuracies equal), and the usage errors (exit 2).
# Usage: bash eval_self_consistency.sh PATH/TO/gptforge SOURCE_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
source "$(dirname "$0")/lib.bash"  # WORK (the current directory), fail, expect_exit

train_tiny_model
"$BIN" tasks --out tasks --train 2 --test 3 >/dev/null || fail "tasks"
E=("$BIN" eval run.threads=1 run.progress=off sample.max_new_tokens=4 --checkpoint run --tasks tasks/test.jsonl)

# ---- top_k = 1: every sample is the greedy answer ----
"${E[@]}" --self-consistency 3 --json sc.json --predictions p.jsonl sample.top_k=1 >table.txt 2>err.txt ||
  fail "eval --self-consistency: $(cat err.txt)"
grep -q "self-consistency, 3 samples" table.txt || fail "no self-consistency header: $(cat table.txt)"
grep -q "vote of 3" table.txt || fail "no vote column: $(cat table.txt)"
grep -q "^overall" table.txt || fail "no overall row: $(cat table.txt)"
python3 - <<'PY' || fail "sc.json / p.jsonl: $(cat sc.json)"
import json
d = json.load(open("sc.json"))
assert d["self_consistency"] == 3 and d["sampler"]["top_k"] == 1, d
r = d["results"][0]
assert r["overall"]["total"] == 21, r["overall"]  # 7 tasks x 3
for task, s in list(r["per_task"].items()) + [("overall", r["overall"])]:
    assert s["single"]["correct"] == s["greedy"]["correct"] == s["voted"]["correct"], (task, s)
preds = [json.loads(l) for l in open("p.jsonl")]
assert len(preds) == 21
for p in preds:
    assert len(p["samples"]) == 3 and p["votes"] == 3, p
    assert all(s == p["got"] for s in p["samples"]), p
    assert p["voted"] == p["got"], p
PY

# ---- Sampled: the first sample does not depend on N (its seed is the example's, not the run's) ----
"${E[@]}" --self-consistency 1 --predictions one.jsonl sample.temperature=1.5 >/dev/null 2>&1 || fail "N=1"
"${E[@]}" --self-consistency 4 --predictions four.jsonl --json four.json sample.temperature=1.5 >/dev/null 2>&1 || fail "N=4"
python3 - <<'PY' || fail "first samples differ between N=1 and N=4"
import json
one = [json.loads(l) for l in open("one.jsonl")]
four = [json.loads(l) for l in open("four.jsonl")]
assert [p["samples"][0] for p in one] == [p["samples"][0] for p in four]
assert all(len(p["samples"]) == 4 for p in four)
o = json.load(open("four.json"))["results"][0]["overall"]
assert o["single"]["correct"] == sum(p["single_correct"] for p in four), o
assert o["voted"]["correct"] == sum(p["voted_correct"] for p in four), o
PY

# ---- Without --self-consistency: the greedy table as before, and --json too ----
"${E[@]}" --json greedy.json >greedy.txt 2>/dev/null || fail "eval --tasks"
grep -q "vote" greedy.txt && fail "a vote column without --self-consistency: $(cat greedy.txt)"
python3 -c "import json; d = json.load(open('greedy.json')); assert d['self_consistency'] == 0 and 'voted' not in d['results'][0]['overall']" ||
  fail "greedy.json: $(cat greedy.json)"

# ---- sample.tools: each checkpoint with the calculator and without it, side by side ----
"${E[@]}" "sample.tools=[calc]" --json tools.json --predictions tp.jsonl >tools.txt 2>/dev/null || fail "eval with sample.tools"
grep -q "run +calc" tools.txt || fail "no '+calc' column: $(cat tools.txt)"
python3 - <<'PY' || fail "tools.json: $(cat tools.json)"
import json
d = json.load(open("tools.json"))
assert [r["checkpoint"] for r in d["results"]] == ["run +calc", "run"], d["results"]
assert all(r["overall"]["total"] == 21 for r in d["results"])
assert all("text" in json.loads(l) for l in open("tp.jsonl"))          # with tools: the whole reply
assert all("text" not in json.loads(l) for l in open("tp.jsonl.1"))    # without
PY

# ---- Usage errors ----
expect_exit 2 "sample.beam_width must be 1" -- "${E[@]}" --self-consistency 2 sample.beam_width=2
expect_exit 2 "go with --tasks" -- "$BIN" eval --checkpoint run --text corpus/c.txt --self-consistency 2
expect_exit 2 "--self-consistency" -- "${E[@]}" --self-consistency 0
echo "eval_self_consistency: ok"
