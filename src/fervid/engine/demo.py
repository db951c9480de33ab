"""``fervid demo``: the whole study on built-in synthetic data, on a CPU.

Synthesise expression videos (Oulu-CASIA layout) → prepare them (Haar face detection, crops) →
train the six models in their tiny ``synth/*`` configs with subject-independent k-fold →
the comparison table, CSV and bar chart. ``--quick`` trains one model on fewer folds.
"""

from __future__ import annotations

import argparse
import time

MODELS = ("c3d", "r2plus1d", "tsm", "cnn_lstm", "timesformer", "vivit")
QUICK = {"models": ("c3d",), "folds": 2}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="synthesise, prepare, train all six models, compare (CPU, minutes)",
        description="The main job on built-in data: synthetic expressions → prepare → subject-"
                    "independent k-fold training of the six models (tiny configs) → comparison "
                    "table and plots in OUT. Under 15 minutes on a 2-core CPU; --quick: one model.",
    )
    p.add_argument("--out", default="fervid-demo", help="output directory (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="one model (c3d), 2 folds: about 2 minutes")
    p.add_argument("--models", help="comma-separated subset of " + ",".join(MODELS))
    p.add_argument("--subjects", type=int, default=60, help="synthetic subjects (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="processes for synthesis and preparation")
    p.set_defaults(func=run)


def run_demo(out, *, models=MODELS, folds: int | None = None, subjects: int = 60, seed: int = 0,
             workers: int = 2, epochs: int | None = None, log=print) -> list[dict]:
    """Run the demo into ``out``; returns the comparison rows (see ``fervid.engine.compare``).

    Steps already done (a synthetic set with ``synth.json``, a prepared set with its manifest,
    finished folds) are reused, so an interrupted demo continues where it stopped.
    """
    from pathlib import Path

    from fervid.data.synthetic import generate
    from fervid.engine.compare import compare_runs
    from fervid.engine.config import load_config
    from fervid.engine.fit import train_run

    out = Path(out)
    synth, prepared = out / "synth", out / "prepared"
    t0 = time.perf_counter()
    if not (synth / "synth.json").is_file():
        # Apex intensities from 0.5: at 48 px the weakest expressions are barely visible, and tiny
        # models trained from scratch in minutes need a task they can learn (docs/BENCHMARKS.md).
        log(generate(synth, subjects=subjects, frames=(12, 20), size=(160, 120), seed=seed,
                     intensity=(0.5, 1.0), workers=workers))
    if not (prepared / "manifest.csv").is_file():
        from fervid.data.prepare import prepare

        # margin 0: the crop is the detected face box, so the 48-px clips spend their pixels on the face
        p = prepare(synth, prepared, "oulu", size=48, detector="haar", margin=0.0, workers=workers, progress=False)
        log(f"prepared {p.written} face-cropped clips ({p.skipped} skipped, see {prepared / 'skipped.csv'}) "
            f"in {p.seconds:.0f} s")
    log(f"data ready in {time.perf_counter() - t0:.0f} s")
    runs = []
    for name in models:
        t = time.perf_counter()
        overrides = [f"data.path={prepared.resolve()}", "trainer.progress_bar=false", f"seed={seed}"]
        if folds:
            overrides.append(f"protocol.folds={folds}")
        if epochs:
            overrides.append(f"epochs={epochs}")
        run_dir = out / "runs" / (name if folds is None else f"{name}-{folds}fold")
        r = train_run(load_config(f"synth/{name}", overrides), run_dir, resume=True,
                      log=lambda s: log(f"  {name} {s}"))
        log(f"{name}: accuracy {r['mean']['accuracy']:.1%}, UAR {r['mean']['uar']:.1%} over {r['n_folds']} folds "
            f"({time.perf_counter() - t:.0f} s)")
        runs.append(run_dir)
    return compare_runs(runs, out / "results.md")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fervid.errors import FervidError

    import logging

    import lightning.pytorch  # noqa: F401  (it sets its loggers to INFO on import: import first)

    # The demo prints one line per fold and model; Lightning's banners and tips would drown them.
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    models = QUICK["models"] if args.quick else MODELS
    if args.models:
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
        unknown = sorted(set(models) - set(MODELS))
        if unknown:
            raise FervidError(f"--models: unknown {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    t0 = time.perf_counter()
    run_demo(args.out, models=models, folds=QUICK["folds"] if args.quick else None, subjects=args.subjects,
             seed=args.seed, workers=args.workers)
    table = Path(args.out) / "results.md"
    print(table.read_text(), end="")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s; table, CSV and chart: {table}, "
          f"{table.with_suffix('.csv')}, {table.with_suffix('.png')}")
    return 0
