"""``fervid demo``: synthesise, prepare, train the six models and compare them, on a CPU."""

from __future__ import annotations

import argparse
import time

from fervid.errors import FervidError
from fervid.train.demo import DATA_SEED, MODELS, QUICK, run_demo


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="synthesise, prepare, train all six models, compare (CPU, minutes)",
        description="The main job on built-in data: synthetic expressions → prepare → subject-"
        "independent k-fold training of the six models (tiny configs) → comparison "
        "table and plots in OUT. Under 15 minutes on a 2-core CPU; --quick: one model.",
    )
    p.add_argument("--out", default="fervid-demo", help="output directory (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="one model (c3d), 2 folds: about 2 minutes")
    p.add_argument(
        "--models",
        help="comma-separated subset of " + ",".join(MODELS) + "; also any other model with "
        "a packaged synth/ config (clip, videomae), which the default run leaves out",
    )
    p.add_argument("--subjects", type=int, default=60, help="synthetic subjects (default %(default)s)")
    p.add_argument(
        "--data-seed",
        type=int,
        default=DATA_SEED,
        help="synthetic generator seed (default %(default)s: data no tuning saw)",
    )
    p.add_argument("--seed", type=int, help="training seed (default: the synth configs' own, 0)")
    p.add_argument("--workers", type=int, default=2, help="processes for synthesis and preparation")
    p.add_argument(
        "--jobs",
        type=int,
        help="processes training folds side by side, one thread each "
        "(default: one per CPU); results do not depend on it",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    import lightning.pytorch  # noqa: F401  (it sets its loggers to INFO on import: import first)

    # The demo prints one line per fold and model; Lightning's banners and tips would drown them.
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    models = QUICK["models"] if args.quick else MODELS
    if args.models:
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
        from fervid.train.config import packaged_configs

        synth = [*MODELS, *sorted({n[6:] for n in packaged_configs() if n.startswith("synth/")} - set(MODELS))]
        unknown = sorted(set(models) - set(synth))
        if unknown:
            raise FervidError(f"--models: unknown {', '.join(unknown)}; choose from {', '.join(synth)}")
    t0 = time.perf_counter()
    run_demo(
        args.out,
        models=models,
        folds=QUICK["folds"] if args.quick else None,
        subjects=args.subjects,
        data_seed=args.data_seed,
        seed=args.seed,
        workers=args.workers,
        jobs=args.jobs,
        log=print,
    )
    table = Path(args.out) / "results.md"
    print(table.read_text(), end="")
    print(
        f"demo finished in {time.perf_counter() - t0:.0f} s; table, CSV and chart: {table}, "
        f"{table.with_suffix('.csv')}, {table.with_suffix('.png')}; seeds, machine and times: "
        f"{table.with_name('demo.json')}"
    )
    return 0
