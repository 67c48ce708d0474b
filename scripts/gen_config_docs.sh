#!/usr/bin/env bash
# Regenerates docs/config-schema.md from `gptforge config schema`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/gptforge}
{
  echo '# Config reference'
  echo
  echo 'Every key gptforge reads, as `gptforge config schema` prints it (regenerate with `scripts/gen_config_docs.sh`; a test fails when this file is stale).'
  echo
  echo '```yaml'
  "$bin" config schema
  echo '```'
} > "$root/docs/config-schema.md"
