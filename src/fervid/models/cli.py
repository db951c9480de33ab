"""``fervid models`` (list the registry) and ``fervid profile`` (measure the models here)."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("models", help="list the registered models and their defaults")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_models)

    p = subparsers.add_parser(
        "profile",
        help="parameters, GMACs, latency and peak memory of models on this machine",
        description="Measure models at their own defaults unless --frames/--size say otherwise. "
        "Compute is in GMACs (multiply-accumulates) per clip; latency is the median of --repeats "
        "forward passes after warm-up, measured in a fresh subprocess per model.",
    )
    p.add_argument("--models", default="all", help="'all' or comma-separated names (default: all)")
    p.add_argument("--frames", type=int, default=None, help="clip length T (default: each model's)")
    p.add_argument("--size", type=int, default=None, help="frame size S (default: each model's)")
    p.add_argument("--batch", type=int, default=1, help="clips per forward pass for latency (default 1)")
    p.add_argument("--classes", type=int, default=6, help="number of classes (default 6)")
    p.add_argument("--repeats", type=int, default=5, help="timed forward passes (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed forward passes first (default 1)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--no-timing", action="store_true", help="only parameters and GMACs")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run_models(args: argparse.Namespace) -> int:
    import torch

    from fervid.models import create_model, get_model_info, list_models
    from fervid.models.profile import count_params

    rows = []
    for name in list_models():
        info = get_model_info(name)
        with torch.device("meta"):
            params = count_params(create_model(name, num_classes=6))
        rows.append(
            {
                "model": name,
                "num_frames": info.num_frames,
                "image_size": info.image_size,
                "params_6_classes": params,
                "description": info.description,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':<12} {'defaults':>9} {'params (M)':>10}  description")
    for r in rows:
        clip = f"{r['num_frames']}x{r['image_size']}"
        print(f"{r['model']:<12} {clip:>9} {r['params_6_classes'] / 1e6:>10.2f}  {r['description']}")
    print("params at 6 classes; input (B, 3, T, S, S) float, output (B, classes) logits")
    return 0


def run(args: argparse.Namespace) -> int:
    from fervid.errors import FervidError
    from fervid.models import get_model_info, list_models
    from fervid.models.profile import format_table, profile_model

    names = list_models() if args.models == "all" else [n.strip() for n in args.models.split(",") if n.strip()]
    for name in names:
        get_model_info(name)  # unknown names fail before any work
    for flag in ("frames", "size", "batch", "classes", "repeats"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise FervidError(f"--{flag} must be at least 1")
    rows = []
    for name in names:
        try:
            rows.append(
                profile_model(
                    name,
                    num_frames=args.frames,
                    image_size=args.size,
                    batch=args.batch,
                    num_classes=args.classes,
                    repeats=args.repeats,
                    warmup=max(args.warmup, 0),
                    device=args.device,
                    timing=not args.no_timing,
                )
            )
        except FervidError as e:  # one model that cannot run at this size does not hide the others
            rows.append({"model": name, "error": str(e)})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        import torch

        print(format_table(rows))
        print(
            f"GMACs: multiply-accumulates per clip (1, 3, T, S, S), one view; latency: median of "
            f"{args.repeats} forward passes of batch {args.batch} after {args.warmup} warm-up on {args.device}; "
            f"peak MB: forward memory above weights and input; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads"
        )
    return 2 if any("error" in r for r in rows) else 0
