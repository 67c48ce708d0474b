#!/usr/bin/env bash
# The benchmark suite: builds gptforge (installing what is missing, as scripts/setup.sh does), then
# measures training tokens/s, MFU and the step-time split for three model sizes against the plain
# PyTorch reference, and decode speed with and without the KV cache. Prints a markdown table and
# writes bench/results/latest.json. Arguments go to bench/run.py (--threads N, --rounds R,
# --sizes tiny,small,medium, --out FILE). Takes about 10 minutes on 2 cores.
#
# Timings are facts about the machine they ran on, taken in one run: nothing here passes or fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
/usr/bin/python3 bench/run.py --build "${BUILD_DIR:-build}" "$@"
