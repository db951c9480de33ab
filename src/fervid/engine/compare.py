"""The study's table: one row per run directory, as Markdown, CSV and a bar chart.

Runs are only comparable on the same dataset (same classes) and the same test-subject folds;
:func:`compare_runs` refuses anything else unless ``force=True``, because such a table would
compare different tasks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from fervid.checkpoint import atomic_write_bytes
from fervid.engine.report import _duration, _pm, write_report
from fervid.errors import FervidError

CSV_COLUMNS = (
    "model", "dataset", "protocol", "folds", "complete", "accuracy_mean_pct", "accuracy_std_pct",
    "uar_mean_pct", "uar_std_pct", "macro_f1_mean_pct", "macro_f1_std_pct", "params_m", "gmacs",
    "input", "train_time_per_fold_s", "train_time_s", "run_dir",
)


def load_results(run_dir: str | os.PathLike) -> dict:
    """A run's ``results.json``, (re)generated first when missing or older than a fold result."""
    run_dir = Path(run_dir)
    path = run_dir / "results.json"
    newest = max((p.stat().st_mtime for p in run_dir.glob("fold_*/result.json")), default=None)
    if newest is not None and (not path.is_file() or path.stat().st_mtime < newest):
        return write_report(run_dir)
    if not path.is_file():
        raise FervidError(f"{run_dir}: no results.json and no fold results; is it a `fervid train` run directory?")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise FervidError(f"{path}: unreadable JSON ({e})") from None


def _identity(r: dict) -> dict:
    split = r.get("split") or {}
    return {
        "dataset": r["dataset"],
        "classes": r["classes"],
        "protocol": f"{r['protocol']} (rule {split.get('rule')}, test subjects {split.get('test_subjects_sha1')})",
    }


def _check_comparable(results: list[dict], run_dirs: list[Path]) -> None:
    first = _identity(results[0])
    for r, d in zip(results[1:], run_dirs[1:]):
        for key, value in _identity(r).items():
            if value != first[key]:
                raise FervidError(
                    f"runs differ in {key}: {run_dirs[0]} has {first[key]}, {d} has {value}; "
                    "such a table would compare different tasks (pass --force to compare anyway)"
                )


def _row(r: dict, run_dir: Path) -> dict:
    row = {
        "model": r["model"], "dataset": r["dataset"], "protocol": r["protocol"],
        "folds": f"{r['n_folds']}/{r['n_folds_expected']}", "complete": bool(r["complete"]),
        "params_m": r["params"] / 1e6 if r.get("params") is not None else None,
        "gmacs": r.get("gmacs"), "input": r.get("input"),
        "train_time_per_fold_s": r.get("train_time_per_fold_s"), "train_time_s": r.get("train_time_s"),
        "run_dir": str(run_dir),
    }
    for key in ("accuracy", "uar", "macro_f1"):
        row[f"{key}_mean"], row[f"{key}_std"] = r["mean"][key], r["std"][key]
    return row


def _labels(rows: list[dict]) -> None:
    """Model name, or model plus run-directory name where one model appears twice."""
    models = [r["model"] for r in rows]
    for r in rows:
        r["label"] = r["model"] if models.count(r["model"]) == 1 else f"{r['model']} ({Path(r['run_dir']).name})"


def _ms(row: dict, key: str) -> str:
    return _pm(row[f"{key}_mean"], row[f"{key}_std"])


def render_table(rows: list[dict], *, forced: bool = False) -> str:
    """Markdown table of :func:`compare_runs` rows, with the conventions under it."""
    lines = [
        "| model | dataset | protocol | folds | accuracy (%) | UAR (%) | macro-F1 (%) | params (M) | GMACs/clip "
        "| train time/fold |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        params = f"{r['params_m']:.2f}" if r["params_m"] is not None else "–"
        gmacs = f"{r['gmacs']:.3g}" if r["gmacs"] is not None else "–"
        lines.append(
            f"| {r['label']} | {r['dataset']} | {r['protocol']} | {r['folds']} | {_ms(r, 'accuracy')} | "
            f"{_ms(r, 'uar')} | {_ms(r, 'macro_f1')} | {params} | {gmacs} | {_duration(r['train_time_per_fold_s'])} |"
        )
    per_run = [f"{r['label']} {r['input']}" for r in rows if r["input"]]
    sizes = {r["input"] for r in rows if r["input"]}
    inputs = f" (T×H×W {sizes.pop()})" if len(sizes) == 1 else f" ({', '.join(per_run)})" if sizes else ""
    lines += [
        "",
        "Mean ± sample std (ddof=1) over folds (no std for a single fold); accuracy = WAR, "
        f"UAR = mean per-class recall. GMACs: multiply-accumulates per clip, one view{inputs}.",
    ]
    partial = [r["label"] for r in rows if not r["complete"]]
    if partial:
        lines.append(f"Incomplete runs (mean over the folds present only): {', '.join(partial)}.")
    if forced:
        lines.append("**Warning**: these runs differ in dataset or folds (compared with --force); "
                     "their numbers are not directly comparable.")
    return "\n".join(lines) + "\n"


def compare_runs(
    run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None, *, force: bool = False
) -> list[dict]:
    """One row per run directory; with ``out`` (``X.md``) also writes ``X.md``, ``X.csv``, ``X.png``.

    Row keys: ``label, model, dataset, protocol, folds, complete, {accuracy,uar,macro_f1}_{mean,std}``
    (fractions), ``params_m, gmacs, input, train_time_per_fold_s, train_time_s, run_dir``.
    Raises FervidError when the runs' datasets, classes or test folds differ, unless ``force``.
    """
    if not run_dirs:
        raise FervidError("compare needs at least one run directory")
    dirs = [Path(d) for d in run_dirs]
    results = [load_results(d) for d in dirs]
    forced = False
    if not force:
        _check_comparable(results, dirs)
    else:
        try:
            _check_comparable(results, dirs)
        except FervidError:
            forced = True
    rows = [_row(r, d) for r, d in zip(results, dirs)]
    _labels(rows)
    if out is not None:
        from fervid.data.manifest import write_csv_atomic
        from fervid.engine.plots import plot_compare

        out = Path(out)
        atomic_write_bytes(out, render_table(rows, forced=forced).encode(), what="the comparison table")

        def cell(row, c):
            v = row[c.removesuffix("_pct")] if c.endswith("_pct") else row[c]
            if c.endswith("_pct") and v is not None:
                v = round(v * 100, 3)
            return "" if v is None else v

        write_csv_atomic(out.with_suffix(".csv"), CSV_COLUMNS, [[cell(r, c) for c in CSV_COLUMNS] for r in rows])
        plot_compare(rows, out.with_suffix(".png"))
    return rows
