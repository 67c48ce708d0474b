#!/usr/bin/env python3
"""Peak resident memory of training, per bench size, for one or more builds of bench_train.

    /usr/bin/python3 bench/peak_memory.py [--sizes nanogpt,tiny,small,medium] [--threads 2] BUILD [BUILD ...]

Runs each build's bench_train on run.py's sizes and step counts, with oneDNN's products on and off
(GPTFORGE_ONEDNN=1 / 0), and prints one markdown table of peak RSS in MB (getrusage's maximum
resident set of the whole process: training steps and the final checkpoint save). Give an older
commit's build next to the current one to compare them (issue 19: peak memory no higher than
before). A memory figure, not a timing: it may run beside other work.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: the sizes and the bench_train command line)


def peak_rss(build, size, threads, onednn):
    env = dict(os.environ, GPTFORGE_ONEDNN="1" if onednn else "0")
    return run.run_json(run.gptforge_cmd(build, size, threads, run.data_dir(size)), env=env)["peak_rss_mb"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("builds", nargs="+", help="build directories holding bench_train")
    ap.add_argument("--sizes", default=",".join(run.SIZES))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    sizes = args.sizes.split(",")
    for size in sizes:
        if size not in run.SIZES:
            ap.error(f"unknown size '{size}' (sizes: {', '.join(run.SIZES)})")
    for build in args.builds:
        if not os.path.exists(os.path.join(build, "bench_train")):
            ap.error(f"{build}/bench_train: no such file (build it: ninja -C {build} bench_train)")
    columns = [f"{b} oneDNN {state}" for b in args.builds for state in ("on", "off")]
    print("| model | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for size in sizes:
        cells = [f"{peak_rss(b, size, args.threads, on):.0f}" for b in args.builds for on in (True, False)]
        print(f"| {size} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
