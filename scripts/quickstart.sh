#!/usr/bin/env bash
# The main job, end to end, on a fresh Debian machine (as root): install and build, fetch the Brown
# Corpus, train a BPE tokenizer, tokenize the corpus into shards, pretrain the tiny model for a few
# minutes on the CPU, then sample from it.
#
# Environment: MINUTES (training budget, default 4), THREADS (default: all cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
minutes=${MINUTES:-4}
threads=${THREADS:-0}

bash scripts/setup.sh
bash scripts/get_corpus.sh
bin=build/gptforge
"$bin" info --threads "$threads"
"$bin" tokenizer train --config configs/tiny.yaml --threads "$threads"
"$bin" prepare --config configs/tiny.yaml --threads "$threads"
"$bin" train --config configs/tiny.yaml --threads "$threads" --force train.max_minutes="$minutes"
"$bin" sample --checkpoint checkpoints/tiny --threads "$threads" --prompt "The jury said" \
  sample.max_new_tokens=120 sample.temperature=0.8 sample.top_k=40 sample.num_samples=2
