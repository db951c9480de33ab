"""``fervid evaluate``, ``fervid report`` and ``fervid compare``."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="re-score a checkpoint (or zero-shot CLIP) on a prepared dataset",
        description="Score a fervid checkpoint on a prepared dataset: every clip, or the test "
        "subjects of one fold of a run (--fold). Classes are matched by name. --zero-shot clip "
        "scores CLIP without training (the dataset's classes, CLIP's FER2013 prompts or --prompts) "
        "with the same metrics (WAR = accuracy, UAR).",
    )
    p.add_argument("checkpoint", nargs="?", metavar="CKPT", help="fervid checkpoint (.safetensors)")
    p.add_argument("--zero-shot", choices=["clip"], help="no checkpoint: score zero-shot CLIP")
    p.add_argument(
        "--zero-shot-weights", metavar="WEIGHTS", help="with --zero-shot: CLIP weights (default clip/openai)"
    )
    p.add_argument("--prompts", metavar="FILE.yaml", help="with --zero-shot: per-class prompts (class: [text, ...])")
    p.add_argument("--data", required=True, metavar="PREPARED", help="directory written by `fervid prepare`")
    p.add_argument("--fold", type=int, metavar="I", help="score only fold I's test subjects")
    p.add_argument("--run-dir", metavar="RUN", help="run holding folds.json (default: the checkpoint's run)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument(
        "--test-views",
        type=int,
        metavar="N",
        help="temporal views averaged per clip (default: the checkpoint's training run's)",
    )
    p.add_argument("--test-crops", type=int, choices=(1, 3), help="spatial crops per view (default: as trained)")
    p.add_argument(
        "--predictions",
        metavar="CSV",
        help="also write one row per scored clip to CSV (the predictions.csv format of a fold)",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run_evaluate)

    p = subparsers.add_parser(
        "report",
        help="write results.json, report.md and plots of a run",
        description="Merge RUN/fold_XX/result.json (folds may come from different machines) into "
        "RUN/results.json, RUN/report.md and PNG plots.",
    )
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument(
        "--html",
        nargs="?",
        const="",
        metavar="OUT.html",
        help="also write a self-contained HTML report (default RUN/report.html)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="report folds that fail the integrity checks (predictions edited after their metrics, "
        "folds from other data) anyway; the report says so",
    )
    p.set_defaults(func=run_report)

    p = subparsers.add_parser(
        "compare",
        help="table of several runs (Markdown, CSV, bar chart) with paired tests",
        description="One row per run: accuracy and UAR mean ± std (over folds, and across seeds), "
        "macro-F1, params, GMACs, train time, and against a baseline run the accuracy and UAR "
        "differences on the clips both scored, with the subject as the unit: cluster-bootstrap "
        "95 %% intervals and sign-flip permutation p-values (Holm-adjusted with more than two runs). "
        "Writes OUT (.md), OUT's .csv and .png, and prints the table.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN")
    p.add_argument("--baseline", metavar="RUN", help="the run the others are tested against (default: the first RUN)")
    p.add_argument(
        "--out", default="results.md", help="Markdown file; .csv and .png go beside it (default %(default)s)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="compare runs on different datasets, folds or data, or whose files fail the integrity checks, "
        "anyway (the table says so)",
    )
    p.add_argument("--html", metavar="OUT.html", help="also write the table and chart as one self-contained HTML file")
    p.set_defaults(func=run_compare)


def run_evaluate(args: argparse.Namespace) -> int:
    import json

    from fervid.errors import FervidError
    from fervid.results.evaluate import evaluate_checkpoint

    common = dict(fold=args.fold, run_dir=args.run_dir, batch_size=args.batch_size, device=args.device)
    if bool(args.checkpoint) == bool(args.zero_shot):
        raise FervidError("give a checkpoint CKPT or --zero-shot clip (one of them)")
    if args.zero_shot:
        from fervid.results.evaluate_zero_shot import evaluate_zero_shot

        if args.test_views or args.test_crops:
            raise FervidError("--test-views/--test-crops apply to checkpoints; zero-shot scores one view")
        r = evaluate_zero_shot(
            args.data,
            model=args.zero_shot,
            weights=args.zero_shot_weights,
            prompts=args.prompts,
            predictions=args.predictions,
            **common,
        )
    else:
        if args.zero_shot_weights or args.prompts:
            raise FervidError("--zero-shot-weights and --prompts apply to --zero-shot only")
        r = evaluate_checkpoint(
            args.checkpoint,
            args.data,
            views=args.test_views,
            crops=args.test_crops,
            predictions=args.predictions,
            **common,
        )
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    where = f"fold {r['fold']} test subjects" if r["fold"] is not None else "all clips"
    views = r["test_views"] * r["test_crops"]
    print(
        f"{r['model']} ({r['checkpoint']}) on {r['data']}, {where}: {r['n_test']} clips"
        + (f", {views} views each" if views > 1 else "")
    )
    print(
        f"accuracy (WAR) {r['accuracy'] * 100:.2f} %  UAR {r['uar'] * 100:.2f} %  macro-F1 {r['macro_f1'] * 100:.2f} %"
    )
    width = max(map(len, r["classes"]))
    print("confusion matrix (rows = true class):")
    for name, row in zip(r["classes"], r["confusion_matrix"]):
        print(f"  {name:>{width}} " + " ".join(f"{v:5d}" for v in row))
    for note in r["notes"]:
        print(f"note: {note}")
    if args.predictions:
        print(f"wrote {args.predictions}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fervid.results.report import write_report
    from fervid.results.report_md import summary_line

    r = write_report(args.run_dir, force=args.force)
    print(summary_line(r))
    print(f"wrote {Path(args.run_dir) / 'report.md'}, results.json and {len(r['plots'])} plots")
    if args.html is not None:
        from fervid.results.html_report import write_report_html

        print(f"wrote {write_report_html(args.run_dir, r, args.html or None)}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fervid.results.compare import compare_runs

    compare_runs(args.run_dirs, args.out, force=args.force, baseline=args.baseline, html=args.html)
    out = Path(args.out)
    print(out.read_text(), end="")
    print(
        f"wrote {out}, {out.with_suffix('.csv')}, {out.with_suffix('.png')}" + (f", {args.html}" if args.html else "")
    )
    return 0
