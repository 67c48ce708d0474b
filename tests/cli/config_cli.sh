#!/usr/bin/env bash
# The config commands and error reporting through the real executable: exit codes and one-line errors.
set -u
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# An unknown key: exit 2, one line on stderr naming file:line and a suggestion, nothing on stdout.
printf 'model:\n  n_layer: 2\n  n_layr: 3\n' > "$tmp/bad.yaml"
"$bin" config show "$tmp/bad.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
[[ $rc == 2 ]] || fail "unknown key: exit $rc, expected 2"
[[ $(wc -l <"$tmp/err") == 1 ]] || fail "unknown key: expected one line on stderr, got: $(cat "$tmp/err")"
grep -q "bad.yaml:3: unknown key 'model.n_layr' (did you mean 'model.n_layer'?)" "$tmp/err" || fail "message: $(cat "$tmp/err")"
[[ ! -s $tmp/out ]] || fail "unknown key: stdout not empty"

# A bad override on a command that runs: exit 2.
"$bin" info model.n_head=0 >/dev/null 2>"$tmp/err"; rc=$?
[[ $rc == 2 ]] || fail "bad override: exit $rc"
grep -q "model.n_head: 0 is out of range" "$tmp/err" || fail "override message: $(cat "$tmp/err")"

# Usage errors: unknown command and stray argument exit 2.
"$bin" nosuchcommand >/dev/null 2>&1; rc=$?
[[ $rc == 2 ]] || fail "unknown command: exit $rc"
"$bin" info stray >/dev/null 2>"$tmp/err"; rc=$?
[[ $rc == 2 ]] || fail "stray argument: exit $rc"

# show resolves base chains and overrides, and its output loads back to the same text.
printf 'model:\n  n_layer: 3\n' > "$tmp/base.yaml"
printf 'base: base.yaml\nmodel:\n  d_model: 96\n  n_head: 4\n' > "$tmp/top.yaml"
"$bin" config show "$tmp/top.yaml" model.family=llama > "$tmp/shown.yaml" || fail "show failed"
grep -q "n_layer: 3" "$tmp/shown.yaml" || fail "base value missing"
grep -q "d_model: 96" "$tmp/shown.yaml" || fail "file value missing"
grep -q 'position: "rope"' "$tmp/shown.yaml" || fail "preset not applied"
"$bin" config show "$tmp/shown.yaml" > "$tmp/again.yaml" || fail "reload failed"
cmp -s "$tmp/shown.yaml" "$tmp/again.yaml" || fail "show does not round-trip"

# Every shipped config resolves.
shopt -s nullglob
for c in "$src"/configs/*.yaml; do
  "$bin" config show "$c" >/dev/null 2>"$tmp/err" || fail "$c does not resolve: $(cat "$tmp/err")"
done

# schema lists keys with descriptions; --help works on every command.
"$bin" config schema | grep -q "n_kv_head (int, default 0)" || fail "schema"
for cmd in info config; do "$bin" $cmd --help >/dev/null || fail "$cmd --help"; done

# docs/config-schema.md is what `config schema` prints.
"$bin" config schema > "$tmp/schema.txt"
sed -n '/^```yaml$/,/^```$/p' "$src/docs/config-schema.md" | sed '1d;$d' > "$tmp/doc_schema.txt"
cmp -s "$tmp/schema.txt" "$tmp/doc_schema.txt" || fail "docs/config-schema.md is stale: run scripts/gen_config_docs.sh"

# info names the BLAS and measures matmul throughput.
"$bin" info --threads 1 > "$tmp/info" || fail "info failed"
grep -q "^blas  *OpenBLAS" "$tmp/info" || fail "info: BLAS is not OpenBLAS: $(grep blas "$tmp/info")"
grep -Eq "^matmul fp32 +[0-9.]+ GFLOP/s" "$tmp/info" || fail "info: no matmul figure"
grep -Eq "^attention +[a-z]" "$tmp/info" || fail "info: no attention kernel"
grep -q "^threads *1 intra-op" "$tmp/info" || fail "info: --threads not applied"
echo "config_cli: all checks passed"
