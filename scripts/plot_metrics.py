#!/usr/bin/python3
"""Renders a run's training and validation curves (loss and bits per byte) to a PNG.

    python3 scripts/plot_metrics.py checkpoints/tiny [--out curves.png]

Reads RUN/metrics.jsonl (one JSON object per line, written by `gptforge train` and `gptforge sft`).
Needs matplotlib (Debian: python3-matplotlib, which scripts/setup.sh installs).
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run directory (holding metrics.jsonl) or the metrics.jsonl file")
    ap.add_argument("--out", help="PNG to write (default: RUN/curves.png)")
    args = ap.parse_args()
    path = args.run if args.run.endswith(".jsonl") else os.path.join(args.run, "metrics.jsonl")
    if not os.path.exists(path):
        sys.exit(f"plot_metrics: {path}: no such file")
    train, val = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                sys.exit(f"plot_metrics: {path}:{n}: not JSON")
            if "loss" in r:
                train.append((r["step"], r["loss"]))
            if "val_loss" in r:
                val.append((r["step"], r["val_loss"], r.get("val_bpb", 0.0)))
    if not train and not val:
        sys.exit(f"plot_metrics: {path}: no loss records")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        ax1.plot(*zip(*train), label="train loss", lw=1)
    if val:
        ax1.plot([v[0] for v in val], [v[1] for v in val], "o-", label="val loss", ms=3)
        ax2.plot([v[0] for v in val], [v[2] for v in val], "o-", color="C2", ms=3)
    ax1.set_xlabel("step")
    ax1.set_ylabel("cross-entropy (nats/token)")
    ax1.legend()
    ax1.grid(alpha=0.3)
    ax2.set_xlabel("step")
    ax2.set_ylabel("validation bits per byte")
    ax2.grid(alpha=0.3)
    fig.suptitle(os.path.dirname(os.path.abspath(path)))
    fig.tight_layout()
    out = args.out or os.path.join(os.path.dirname(path), "curves.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
