#!/usr/bin/python3
"""Runs the benchmark suite and prints the table the README's Performance section shows.

    scripts/bench.sh                    (builds, then runs this)
    /usr/bin/python3 bench/run.py [--threads N] [--rounds 3] [--sizes tiny,small,medium] [--out FILE]

For each model size it alternates gptforge (build/bench_train) and the plain PyTorch reference
(bench/reference_pytorch.py) for --rounds rounds, flipping which goes first each round so that a
drift in the machine's speed hits both alike; every process times its steps after a warm-up and
reports medians, and the table shows the median over rounds. The matmul peak for MFU is the median
of the peaks every bench_train process measured, before and after its run, in this same run. Then
decode speed with and without the KV cache (build/bench_decode). Timings are never checked against
a threshold: the targets are printed beside the measurements, for a person to read.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# d_model, layers, heads, context, batch: every size runs 2,048 tokens per step.
SIZES = {
    "tiny": dict(d_model=128, layers=4, heads=4, block=64, batch=32),
    "small": dict(d_model=256, layers=6, heads=8, block=128, batch=16),
    "medium": dict(d_model=512, layers=8, heads=8, block=256, batch=8),
}
# Steps per process (warm-up, timed): enough for a stable median without making medium take minutes.
STEPS = {"tiny": (5, 30), "small": (4, 16), "medium": (3, 8)}
TARGETS = {"tiny": "ratio >= 1.3", "small": "", "medium": "ratio >= 1.0, MFU >= 50%"}


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def gptforge_cmd(build, size, threads, data):
    s, (warmup, steps) = SIZES[size], STEPS[size]
    return [os.path.join(build, "bench_train"), "--json", "--data", data, "--warmup", str(warmup), "--steps", str(steps),
            f"model.d_model={s['d_model']}", f"model.n_layer={s['layers']}", f"model.n_head={s['heads']}",
            f"model.block_size={s['block']}", f"train.batch_size={s['batch']}", "model.vocab_size=4096",
            f"run.threads={threads}", "run.device=cpu"]


def pytorch_cmd(size, threads, data, foreach):
    s, (warmup, steps) = SIZES[size], STEPS[size]
    cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "reference_pytorch.py"), "--data", data,
           "--d-model", str(s["d_model"]), "--layers", str(s["layers"]), "--heads", str(s["heads"]),
           "--block", str(s["block"]), "--batch", str(s["batch"]), "--vocab", "4096", "--threads", str(threads),
           "--warmup", str(warmup), "--steps", str(steps)]
    return cmd + (["--foreach"] if foreach else [])


def med(values):
    return statistics.median(values) if values else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="tiny,small,medium")
    ap.add_argument("--foreach", action="store_true", help="the reference uses AdamW(foreach=True)")
    ap.add_argument("--no-decode", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "latest.json"))
    args = ap.parse_args()

    data = os.path.join(ROOT, "data", "bench")
    # Both implementations start their OpenMP pools with the requested thread count.
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    started = time.time()
    results = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "threads": args.threads},
               "rounds": args.rounds, "sizes": {}, "decode": None}
    for size in args.sizes.split(","):
        runs = {"gptforge": [], "pytorch": []}
        for r in range(args.rounds):
            order = ["gptforge", "pytorch"] if r % 2 == 0 else ["pytorch", "gptforge"]
            for impl in order:
                cmd = (gptforge_cmd(args.build, size, args.threads, data) if impl == "gptforge"
                       else pytorch_cmd(size, args.threads, data, args.foreach))
                runs[impl].append(run_json(cmd, env))
            print(f"  {size} round {r + 1}: gptforge {runs['gptforge'][-1]['tokens_per_s']:.0f} tok/s, "
                  f"pytorch {runs['pytorch'][-1]['tokens_per_s']:.0f} tok/s", file=sys.stderr)
        g, p = runs["gptforge"], runs["pytorch"]
        peak = med([x for run in g for x in run["peak_gflops"]])
        g_tok, p_tok = med([x["tokens_per_s"] for x in g]), med([x["tokens_per_s"] for x in p])
        flops = g[0]["flops_per_token"]
        results["sizes"][size] = {
            "config": SIZES[size], "params": g[0]["model"]["params"], "flops_per_token": flops,
            "peak_gflops": peak,
            "gptforge": {"tokens_per_s": g_tok, "mfu": flops * g_tok / (peak * 1e9),
                         "step_ms": {k: med([x["step_ms"][k] for x in g]) for k in g[0]["step_ms"]},
                         "peak_rss_mb": max(x["peak_rss_mb"] for x in g), "runs": g},
            "pytorch": {"tokens_per_s": p_tok, "mfu": flops * p_tok / (peak * 1e9),
                        "step_ms": {k: med([x["step_ms"][k] for x in p]) for k in p[0]["step_ms"]},
                        "peak_rss_mb": max(x["peak_rss_mb"] for x in p), "runs": p},
            "ratio": g_tok / p_tok,
            # Each round runs both back to back: its ratio is the least touched by the machine's drift.
            "round_ratios": [a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(g, p)],
        }
        results["machine"]["blas"] = g[0]["blas"]
        results["machine"]["torch"] = g[0]["torch"]
    if not args.no_decode:
        results["decode"] = run_json([os.path.join(args.build, "bench_decode"), "--json", "--threads",
                                      str(args.threads)], env)
    results["seconds"] = time.time() - started

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print_report(results)
    print(f"\nwritten: {os.path.relpath(args.out, ROOT)} ({results['seconds']:.0f} s)")


def print_report(res):
    m = res["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores; {m['threads']} threads; BLAS {m.get('blas', '?')}; "
          f"LibTorch {m.get('torch', '?')}; medians of {res['rounds']} rounds")
    print()
    print("| model | params | tok/step | gptforge tok/s | PyTorch tok/s | ratio | MFU | peak GFLOP/s "
          "| ratio per round | step ms: data / fwd / bwd / optim | peak RSS MB (gptforge / PyTorch) | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size, s in res["sizes"].items():
        c, g, p = s["config"], s["gptforge"], s["pytorch"]
        st = g["step_ms"]
        print(f"| {size}: d{c['d_model']} L{c['layers']} ctx{c['block']} b{c['batch']} | {s['params'] / 1e6:.2f}M "
              f"| {c['block'] * c['batch']} | {g['tokens_per_s']:.0f} | {p['tokens_per_s']:.0f} | {s['ratio']:.2f}x "
              f"| {100 * g['mfu']:.1f}% | {s['peak_gflops']:.0f} "
              f"| {' / '.join(f'{r:.2f}' for r in s.get('round_ratios', []))} "
              f"| {st['data']:.2f} / {st['forward']:.1f} / {st['backward']:.1f} / {st['optimizer']:.1f} "
              f"| {g['peak_rss_mb']:.0f} / {p['peak_rss_mb']:.0f} | {TARGETS.get(size, '')} |")
    d = res.get("decode")
    if d:
        print()
        print(f"decode, batch 1, {d['tokens']} new tokens, {d['model']}: ")
        print("| decoding | KV cache tok/s | no cache tok/s | speed-up | same tokens |")
        print("|---|---|---|---|---|")
        for row in d["rows"]:
            print(f"| {row['decoding']} | {row['cache_tokens_per_s']:.0f} | {row['full_tokens_per_s']:.0f} "
                  f"| {row['ratio']:.1f}x | {'yes' if row['same'] else 'no'} |")


if __name__ == "__main__":
    main()
