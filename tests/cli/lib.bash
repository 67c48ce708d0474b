# Shared by the tests/cli/*.sh scripts (sourced; not a test itself): a scratch directory that the
# script runs in and that is removed on exit, `fail`, and `expect_exit`.
# Usage, after `set -euo pipefail`:  source "$(dirname "$0")/lib.bash"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE PATTERN -- command...: runs the command, checks its exit code and that stderr names PATTERN.
expect_exit() {
  local code="$1" pattern="$2"
  shift 3
  set +e
  "$@" >out.txt 2>err.txt
  local rc=$?
  set -e
  [[ $rc == "$code" ]] || { cat err.txt >&2; fail "'$*' exited $rc, expected $code"; }
  grep -qF -- "$pattern" err.txt || { cat err.txt >&2; fail "'$*': stderr does not name '$pattern'"; }
}
