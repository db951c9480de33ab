"""``fervid train CONFIG``: subject-independent k-fold training of one model."""

from __future__ import annotations

import argparse
import os
import shlex
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="k-fold training of one model on a prepared dataset",
        description="Train CONFIG (a YAML file or a packaged name such as oulu/r2plus1d or synth/c3d) "
        "with subject-independent k-fold cross-validation. Epochs are selected on a "
        "validation split of training subjects only; each test fold is scored once. "
        "Runs as one process or under `torchrun --nproc_per_node N`.",
    )
    p.add_argument("config", metavar="CONFIG", help="YAML file or packaged config name")
    p.add_argument("--data", metavar="PREPARED", help="prepared dataset directory (data.path)")
    p.add_argument(
        "--model",
        metavar="NAME",
        help="model name (model.name; kwargs reset to the builder's defaults, pretrained to none)",
    )
    p.add_argument(
        "--folds",
        type=int,
        metavar="K",
        help="number of folds (protocol.folds; default 10, or the data's own official folds)",
    )
    p.add_argument(
        "--seeds",
        metavar="S,S,...",
        type=_seeds,
        help="repeat the whole k-fold study once per seed, e.g. 0,1,2 (protocol.seeds)",
    )
    p.add_argument(
        "--fold",
        type=int,
        action="append",
        metavar="I",
        help="run only fold I (repeatable); `fervid report RUN` merges folds run elsewhere",
    )
    p.add_argument("--epochs", type=int, metavar="N")
    p.add_argument(
        "--val-subjects",
        type=float,
        metavar="F",
        help="fraction of training subjects held out for selection (protocol.val_subjects; 0: last epoch)",
    )
    p.add_argument(
        "--test-views",
        type=int,
        metavar="N",
        help="average the logits of N evenly spaced temporal clips per test clip (protocol.test_views)",
    )
    p.add_argument(
        "--test-crops",
        type=int,
        choices=(1, 3),
        help="3: also average left, centre and right spatial crops (protocol.test_crops)",
    )
    p.add_argument("--run-dir", metavar="DIR", help="output directory (default runs/<dataset>-<model>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="skip finished folds and continue an unfinished one from its last checkpoint",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a dotted config key, e.g. --set optim.lr=3e-4 --set seed=7",
    )
    p.set_defaults(func=run)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 0,1,2; got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("no seed given")
    return seeds


def resolve(args: argparse.Namespace) -> dict:
    """The config after the file, ``--set`` and the dedicated flags (which win)."""
    from fervid.train.config import load_config

    overrides = list(args.overrides)
    for flag, key in (
        (args.data, "data.path"),
        (args.folds, "protocol.folds"),
        (args.epochs, "epochs"),
        (args.val_subjects, "protocol.val_subjects"),
        (args.test_views, "protocol.test_views"),
        (args.test_crops, "protocol.test_crops"),
    ):
        if flag is not None:
            overrides.append(f"{key}={flag}")
    if args.seeds:
        overrides.append(f"protocol.seeds=[{','.join(map(str, args.seeds))}]")
    if args.model:
        overrides += [f"model.name={args.model}", "model.kwargs={}"]
        if not any(o.startswith("model.pretrained=") for o in args.overrides):  # named weights are per model
            overrides.append("model.pretrained=null")
    config = load_config(args.config, overrides)
    if config["data"]["path"]:
        config["data"]["path"] = os.path.abspath(config["data"]["path"])
    return config


def resume_command(argv: list[str]) -> str:
    """The command line that continues this run (``--resume`` added when missing)."""
    cmd = shlex.join(["fervid", *argv, *([] if "--resume" in argv else ["--resume"])])
    if "TORCHELASTIC_RUN_ID" in os.environ:  # the launcher's own options are not ours to know
        return f"torchrun <the same torchrun options> -m {cmd.removeprefix('fervid ')}"
    return cmd


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fervid.hub import resolve as resolve_weights
    from fervid.models import from_scratch_warning, get_model_info
    from fervid.train.preemption import Preempted, watch
    from fervid.train.run import train_run
    from fervid.writes import WriteFailed

    config = resolve(args)
    main = int(os.environ.get("RANK", "0")) == 0
    model = config["model"]
    get_model_info(model["name"])  # an unknown model is the first thing to say
    if model["pretrained"] is not None:  # found or fetched now: a missing file stops the run before it starts
        start = resolve_weights(str(model["pretrained"]), model["name"])
        if main:
            print(f"{model['name']}: starting from {start.label}")
    elif main and (warning := from_scratch_warning(model["name"], model["kwargs"], None)):
        print(warning, file=sys.stderr)
    run_dir = Path(args.run_dir or Path("runs") / f"{config['dataset'] or 'data'}-{config['model']['name']}")
    argv = getattr(args, "argv", None) or sys.argv[1:]
    try:
        with watch():
            results = train_run(
                config, run_dir, folds=args.fold, resume=args.resume, log=print if main else (lambda s: None)
            )
    except Preempted as e:
        if main:
            print(f"fervid train: {e}", file=sys.stderr)
            print(f"fervid train: to continue: {resume_command(argv)}", file=sys.stderr, flush=True)
        return e.exit_code
    except WriteFailed as e:
        if str(e).endswith("again"):
            raise WriteFailed(f"{e} with --resume") from None
        raise
    if main and results:
        from fervid.results.report_md import summary_line

        print(summary_line(results))
        print(f"wrote {run_dir / 'results.json'} and {run_dir / 'report.md'}")
    return 0
