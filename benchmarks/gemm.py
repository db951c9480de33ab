"""The reference speed to quote beside any timing: 2048² fp32 GEMM GFLOP/s on this CPU, now.

Prints the machine line ``fervid demo`` prints at its start (CPU model, logical CPUs, torch and
its threads and kernel level, load average, GEMM rate), at each thread count asked for. A
timing from another machine scales to this one roughly by the ratio of the two GEMM figures;
for the demo's tiny models, ``benchmarks/train_step.py`` gives a closer ratio.

Usage: python benchmarks/gemm.py [--threads 1,2] [--n 2048] [--seconds 1]
"""

from __future__ import annotations

import argparse

import torch

from fervid.machine import describe, describe_line, gemm_gflops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default=str(torch.get_num_threads()), help="comma-separated thread counts")
    ap.add_argument("--n", type=int, default=2048, help="matrix side (default %(default)s)")
    ap.add_argument("--seconds", type=float, default=1.0, help="time spent per thread count")
    args = ap.parse_args()
    print(describe_line(describe(gemm=False)))
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        print(f"{args.n}² fp32 GEMM, {threads} thread(s): {gemm_gflops(args.n, seconds=args.seconds):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
