"""Time one training step (forward, backward, gradient clipping, optimiser step) of the demo's models.

Each model is built from its packaged config (``synth/<model>`` by default) exactly as
``fervid train`` builds it (``fervid.train.model_setup.build_model``, the config's optimiser and
memory format through ``ClipClassifier``), and trained on one random batch of the config's
size: ``batch_size x 3 x num_frames x image_size x image_size``. No data loading, validation,
checkpoints or logging: this is the floor a fold's steps cannot go below.

Variants (each a list; every combination is timed, in turn, so that load from other jobs hits
them alike): ``--threads`` (torch intra-op threads), ``--memory-format`` (``contiguous``,
``channels_last``: 2-D and 3-D convolutions' weights in channels-last order), ``--optim-impl``
(``fused``: what training uses; ``loop``: torch's per-tensor loop, its CPU default).

Prints a machine line with the 2048² fp32 GEMM rate measured in the same sitting, then per
variant the median and best step time (wall), the process CPU time per step, and the achieved
GFLOP/s (3 x the forward FLOPs: forward plus a backward of twice its cost).

Usage: python benchmarks/train_step.py [--models r2plus1d,tsm] [--threads 1,2]
       [--memory-format contiguous,channels_last] [--optim-impl loop,fused] [--steps 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from fervid.machine import describe, describe_line
from fervid.models.profile import count_macs
from fervid.train.config import load_config
from fervid.train.demo import MODELS
from fervid.train.model_setup import build_model
from fervid.train.module import ClipClassifier


def build(name: str, memory_format: str, optim_impl: str, config_prefix: str):
    torch.manual_seed(0)
    config = load_config(
        f"{config_prefix}/{name}", [] if memory_format == "config" else [f"trainer.memory_format={memory_format}"]
    )
    model = build_model(config, 6)
    d = config["data"]
    shape = (config["batch_size"], 3, d["num_frames"], d["image_size"], d["image_size"])
    macs = count_macs(model, shape)
    module = ClipClassifier(
        model,
        num_classes=6,
        optimizer=config["optim"]["name"],
        lr=config["optim"]["lr"],
        weight_decay=config["optim"]["weight_decay"],
        warmup_epochs=1,
        min_lr_ratio=0.01,
        steps_per_epoch=10,
        epochs=10,
        fold=0,
        memory_format=config["trainer"]["memory_format"],
    )
    optimizer = module.configure_optimizers()["optimizer"]
    if optim_impl == "loop":  # the same groups and settings, updated by torch's per-tensor loop
        optimizer = type(optimizer)([{**g, "fused": None, "foreach": False} for g in optimizer.param_groups])
    x, y = torch.randn(shape), torch.randint(0, 6, (shape[0],))
    clip = config["trainer"]["gradient_clip"]

    def step():
        optimizer.zero_grad()
        F.cross_entropy(module(x), y).backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()

    return step, macs, shape


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", default=str(torch.get_num_threads()))
    ap.add_argument(
        "--memory-format",
        default="contiguous,channels_last",
        help="contiguous, channels_last, config (the config's trainer.memory_format)",
    )
    ap.add_argument("--optim-impl", default="fused", help="fused (what training uses), loop")
    ap.add_argument("--config-prefix", default="synth")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    print(describe_line(describe()))
    variants = [
        (int(t), m, o)
        for t in args.threads.split(",")
        for m in args.memory_format.split(",")
        for o in args.optim_impl.split(",")
    ]
    print("| model | batch x clip | threads | memory format | optimiser | median ms | best ms | CPU ms | GFLOP/s |")
    print("|---|---|---:|---|---|---:|---:|---:|---:|")
    for name in args.models.split(","):
        steps = {}
        for threads, fmt, impl in variants:
            torch.set_num_threads(threads)
            steps[threads, fmt, impl] = build(name, fmt, impl, args.config_prefix)
            for _ in range(args.warmup):
                steps[threads, fmt, impl][0]()
        wall = {v: [] for v in variants}
        cpu = {v: [] for v in variants}
        for _ in range(args.steps):  # interleaved: a burst of load hits every variant alike
            for v in variants:
                torch.set_num_threads(v[0])
                c, t = time.process_time(), time.perf_counter()
                steps[v][0]()
                wall[v].append(time.perf_counter() - t)
                cpu[v].append(time.process_time() - c)
        for v in variants:
            _, macs, shape = steps[v]
            med = statistics.median(wall[v])
            print(
                f"| {name} | {shape[0]} x {shape[2]}x{shape[3]}x{shape[4]} | {v[0]} | {v[1]} | {v[2]} | "
                f"{med * 1e3:.1f} | {min(wall[v]) * 1e3:.1f} | {statistics.median(cpu[v]) * 1e3:.1f} | "
                f"{6 * macs / med / 1e9:.1f} |"
            )
    print(describe_line(describe(gemm=False)))


if __name__ == "__main__":
    main()
