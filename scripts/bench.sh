#!/usr/bin/env bash
# The benchmark suite: builds gptforge (installing what is missing, as scripts/setup.sh does), then
# measures training tokens/s, MFU and the step-time split for nanoGPT's CPU config and three model
# sizes against the plain PyTorch reference, and decode speed with and without the KV cache, on
# Debian's LibTorch 1.13 (the host); then the same table on LibTorch 2.14 in the sid chroot of
# scripts/lanes.sh, with the reference also under torch.compile (GPTFORGE_BENCH_LIBTORCH2=0 skips it).
# Prints markdown tables and writes bench/results/latest.json and latest-libtorch2.json. Arguments go
# to bench/run.py (--threads N, --rounds R, --sizes nanogpt,tiny,small,medium). About 15 minutes on
# 2 cores for the host's table, 25 for the chroot's (plus making the chroot the first time).
#
# Timings are facts about the machine they ran on, taken in one run: nothing here passes or fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
echo "== LibTorch $(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null || echo '?') (host)"
/usr/bin/python3 bench/run.py --build "${BUILD_DIR:-build}" "$@"
if [[ ${GPTFORGE_BENCH_LIBTORCH2:-1} == 1 ]]; then
  echo
  echo "== LibTorch 2.14 (Debian sid chroot, scripts/lanes.sh bench)"
  bash scripts/lanes.sh bench "$@"
fi
