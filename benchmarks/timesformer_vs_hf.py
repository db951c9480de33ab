"""Forward time of fervid's ``timesformer`` against Hugging Face's TimeSformer, same config, same run.

Both are ViT-B/16 with divided space-time attention at 8 frames of 224x224 (by default), batch 1,
fp32, eval mode, ``torch.inference_mode``; fervid's gets the Hugging Face weights through
``pretrained=`` so both compute the same logits (checked). Runs alternate between the two
models so that load changes on the machine hit both alike; the median of ``--repeats`` runs
after ``--warmup`` runs is reported, as wall-clock time and as this process's CPU time (less
sensitive to other processes on a shared machine).

    python benchmarks/timesformer_vs_hf.py [--frames 8] [--size 224] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import transformers
    from transformers import TimesformerConfig, TimesformerForVideoClassification

    from fervid.models import create_model

    torch.manual_seed(0)
    config = TimesformerConfig(image_size=args.size, num_frames=args.frames, num_labels=400)  # ViT-B/16 defaults
    hf = TimesformerForVideoClassification(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        ours = create_model(
            "timesformer", num_classes=400, num_frames=args.frames, image_size=args.size, pretrained=tmp
        ).eval()

    clip = torch.randn(args.batch, 3, args.frames, args.size, args.size)  # fervid: (B, C, T, H, W)
    clip_hf = clip.transpose(1, 2).contiguous()  # Hugging Face: (B, T, C, H, W)
    runs = {"fervid": (lambda: ours(clip)), "hf": (lambda: hf(pixel_values=clip_hf).logits)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        diff = (runs["fervid"]() - runs["hf"]()).abs().max().item()
        for i in range(args.warmup + args.repeats):
            for name, fn in runs.items():
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                if i >= args.warmup:
                    times[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)

    med = {name: statistics.median(ts) for name, ts in times.items()}
    med_cpu = {name: statistics.median(ts) for name, ts in cpu.items()}
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}"
    )
    print(
        f"config: TimeSformer-B/16 divided space-time, {args.frames}x{args.size}x{args.size}, batch {args.batch}, "
        f"fp32, {args.warmup} warm-up + {args.repeats} timed runs each, alternating"
    )
    print(f"max |logit difference|: {diff:.2e}")
    for name in runs:
        ts = ", ".join(f"{t:.3f}" for t in times[name])
        print(f"{name:7s} median {med[name]:.3f} s/forward wall ({ts}); CPU time {med_cpu[name]:.3f} s")
    print(
        f"ratio fervid / hf: wall {med['fervid'] / med['hf']:.3f}, CPU time {med_cpu['fervid'] / med_cpu['hf']:.3f}"
        "  (< 1: fervid faster)"
    )


if __name__ == "__main__":
    main()
