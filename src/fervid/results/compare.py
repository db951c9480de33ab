"""The study's table: one row per run directory, as Markdown, CSV and a bar chart, with paired
tests against a baseline run.

Runs are only comparable on the same dataset (same classes), the same test-subject folds and
the same prepared data (fingerprint, where both runs recorded one); :func:`compare_runs`
refuses anything else unless ``force=True``, because such a table would compare different
tasks. Data prepared differently (face crop, reader options, size) are warned about. Every
run's folds are checked first (fervid.rundir.integrity: predictions unchanged since their
metrics were written, folds from the run's own data). With two or more runs, each run is tested
against the baseline (``baseline``, else the first run given) on the clips both scored, with
the subject as the unit (fervid.results.paired); with more than two runs the p-values are
Holm-adjusted. The Markdown is fervid.results.compare_md's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from fervid.errors import FervidError
from fervid.results.compare_md import PERMUTATIONS, RESAMPLES, folds_cell, render_table
from fervid.results.report import write_report
from fervid.writes import atomic_write_bytes

CSV_COLUMNS = (
    "model",
    "dataset",
    "protocol",
    "folds",
    "complete",
    "seeds",
    "accuracy_mean_pct",
    "accuracy_std_pct",
    "accuracy_std_seeds_pct",
    "uar_mean_pct",
    "uar_std_pct",
    "uar_std_seeds_pct",
    "macro_f1_mean_pct",
    "macro_f1_std_pct",
    "macro_f1_std_seeds_pct",
    "params_m",
    "gmacs",
    "input",
    "test_views",
    "gmacs_test",
    "train_time_per_fold_s",
    "train_time_s",
    "baseline",
    "paired_seeds",
    "paired_clips",
    "unit",
    "n_units",
    "accuracy_diff_pct",
    "accuracy_diff_low_pct",
    "accuracy_diff_high_pct",
    "accuracy_p_value",
    "uar_diff_pct",
    "uar_diff_low_pct",
    "uar_diff_high_pct",
    "p_value",
    "test",
    "mcnemar_b",
    "mcnemar_c",
    "mcnemar_clip_p",
    "paired_note",
    "run_dir",
)


def _stale(run_dir: Path, path: Path) -> bool:
    """results.json missing, made by a fervid that did not check integrity, or older than any
    fold file it is made from (both layouts: fervid.rundir.layout)."""
    from fervid.rundir import layout

    inputs = [*layout.files(run_dir, "result.json"), *layout.files(run_dir, "predictions.csv")]
    if not inputs:
        return False
    if not path.is_file():
        return True
    newest = max(p.stat().st_mtime for p in [*inputs, run_dir / "folds.json"] if p.is_file())
    if path.stat().st_mtime < newest:
        return True
    try:
        return "integrity" not in json.loads(path.read_text())
    except (OSError, ValueError):
        return True


def load_results(run_dir: str | os.PathLike, *, force: bool = False) -> dict:
    """A run's ``results.json``, (re)generated first when missing or older than a fold file; its
    folds checked (fervid.rundir.integrity.check_run; ``force`` records the overrides)."""
    from fervid.rundir.integrity import check_run

    run_dir = Path(run_dir)
    path = run_dir / "results.json"
    if _stale(run_dir, path):
        return write_report(run_dir, force=force)
    if not path.is_file():
        raise FervidError(f"{run_dir}: no results.json and no fold result; is it a `fervid train` run directory?")
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise FervidError(f"{path}: unreadable JSON ({e})") from None
    results["integrity"] = check_run(run_dir, force=force).as_dict()  # the files may have changed since
    return results


def _identity(r: dict) -> dict:
    split = r.get("split") or {}
    return {
        "dataset": r["dataset"],
        "classes": r["classes"],
        "protocol": f"rule {split.get('rule')}, k {split.get('k')}, test subjects {split.get('test_subjects_sha1')}",
    }


def _check_comparable(results: list[dict], run_dirs: list[Path]) -> None:
    from fervid.results.paired import fingerprints_differ

    first = _identity(results[0])
    for r, d in zip(results[1:], run_dirs[1:]):
        for key, value in _identity(r).items():
            if value != first[key]:
                raise FervidError(
                    f"runs differ in {key}: {run_dirs[0]} has {first[key]}, {d} has {value}; "
                    "such a table would compare different tasks (pass --force to compare anyway)"
                )
        if fingerprints_differ(results[0].get("prepared"), r.get("prepared")):
            a, b = results[0]["prepared"]["fingerprint"][:12], r["prepared"]["fingerprint"][:12]
            raise FervidError(
                f"runs differ in data: {run_dirs[0]} was trained on data with fingerprint {a}, {d} on {b} "
                "(same names, other clips or labels); pass --force to tabulate them anyway (they are not paired)"
            )


def _row(r: dict, run_dir: Path) -> dict:
    seeds = r.get("seeds") or [r.get("seed")]
    split = r.get("split") or {}
    views = r.get("test_views") or 1
    protocol = (
        r["protocol"]
        + (f", rule {split['rule']}" if split.get("rule") else "")
        + (f", {views} test views" if views > 1 else "")
    )
    row = {
        "model": r["model"],
        "dataset": r["dataset"],
        "protocol": protocol,
        "folds": f"{r['n_folds']}/{r['n_folds_expected']}",
        "k": split.get("k"),
        "complete": bool(r["complete"]),
        "seeds": " ".join(map(str, seeds)),
        "n_seeds": len(seeds),
        "params_m": r["params"] / 1e6 if r.get("params") is not None else None,
        "gmacs": r.get("gmacs"),
        "input": r.get("input"),
        "test_views": r.get("test_views") or 1,
        "gmacs_test": r.get("gmacs_test", r.get("gmacs")),
        "train_time_per_fold_s": r.get("train_time_per_fold_s"),
        "train_time_s": r.get("train_time_s"),
        "run_dir": str(run_dir),
    }
    std_seeds = r.get("std_seeds") or {}
    for key in ("accuracy", "uar", "macro_f1"):
        row[f"{key}_mean"], row[f"{key}_std"] = r["mean"][key], r["std"][key]
        row[f"{key}_std_seeds"] = std_seeds.get(key)
    return row


def _add_paired(
    rows: list[dict],
    results: list[dict],
    dirs: list[Path],
    baseline: int,
    *,
    resamples: int,
    permutations: int,
    seed: int,
) -> None:
    """Paired tests of every run against ``rows[baseline]`` (fields in CSV_COLUMNS), Holm-adjusted
    over the comparisons tested."""
    from fervid.results.paired import load_run_predictions, paired_comparison
    from fervid.results.stats import holm

    preds = [load_run_predictions(d) for d in dirs]
    for i, row in enumerate(rows):
        row["baseline"] = rows[baseline]["label"]
        if i == baseline:
            row["paired_note"] = "baseline"
            continue
        t = paired_comparison(
            results[baseline],
            results[i],
            preds[baseline],
            preds[i],
            resamples=resamples,
            permutations=permutations,
            seed=seed,
        )
        if not t["tested"]:
            row["paired_note"] = f"not tested: {t['reason']}"
            continue
        row.update(
            paired_seeds=" ".join(map(str, t["seeds"])),
            paired_clips=t["n_clips"],
            unit=t["unit"],
            n_units=t["n_units"],
            mcnemar_b=t["b"],
            mcnemar_c=t["c"],
            mcnemar_clip_p=t["mcnemar_clip_p"],
            accuracy_p_value=t["accuracy_p"],
            p_value=t["uar_p"],
        )
        for key in ("accuracy", "uar"):
            row[f"{key}_diff"], row[f"{key}_diff_low"], row[f"{key}_diff_high"] = t[f"{key}_diff"]
        shared = t["seeds"] != (results[i].get("seeds") or []) or t["seeds"] != (results[baseline].get("seeds") or [])
        row["paired_note"] = f"paired on seeds {row['paired_seeds']} only" if shared else ""
    tested = [r for r in rows if r.get("p_value") is not None]
    for key in ("p_value", "accuracy_p_value"):
        for r, p in zip(tested, holm([r[key] for r in tested])):
            r[key] = p
    for r in tested:
        unit = f"{r['n_units']} subjects" if r["unit"] == "subject" else f"{r['n_units']} clips, no identities"
        r["test"] = f"sign-flip permutation test over {unit} (Δ UAR)" + (
            f", Holm-adjusted for {len(tested)} comparisons" if len(tested) > 1 else ""
        )


def _baseline_index(dirs: list[Path], baseline) -> int:
    if baseline is None:  # the first run given: never chosen by its test results
        return 0
    want = Path(baseline).resolve()
    for i, d in enumerate(dirs):
        if d.resolve() == want:
            return i
    raise FervidError(f"--baseline {baseline}: not one of the runs compared ({', '.join(map(str, dirs))})")


def _labels(rows: list[dict]) -> None:
    """Model name, or model plus run-directory name where one model appears twice."""
    models = [r["model"] for r in rows]
    for r in rows:
        r["label"] = r["model"] if models.count(r["model"]) == 1 else f"{r['model']} ({Path(r['run_dir']).name})"


def _warnings(results: list[dict], rows: list[dict]) -> list[str]:
    """Data prepared differently, and each run's integrity notes (fervid.rundir.integrity)."""
    from fervid.results.paired import prepared_differences
    from fervid.rundir.integrity import integrity_notes

    out = []
    found = [
        f"{row['label']} vs {rows[0]['label']}: {'; '.join(diff)}"
        for r, row in zip(results[1:], rows[1:])
        if (diff := prepared_differences(results[0].get("prepared"), r.get("prepared")))
    ]
    if found:
        out.append(
            f"**Warning**: the runs' data were prepared differently ({' | '.join(found)}); "
            "they are not scored on the same inputs."
        )
    for r, row in zip(results, rows):
        out += integrity_notes(row["label"], r.get("integrity"))
    return out


def compare_runs(
    run_dirs: Sequence[str | os.PathLike],
    out: str | os.PathLike | None = None,
    *,
    force: bool = False,
    baseline: str | os.PathLike | None = None,
    resamples: int = RESAMPLES,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
    html: str | os.PathLike | None = None,
) -> list[dict]:
    """One row per run directory; with ``out`` (``X.md``) also writes ``X.md``, ``X.csv``, ``X.png``;
    with ``html`` a self-contained page of the table and chart (``fervid.results.html_report``).

    Row keys: ``label, model, dataset, protocol, folds, k, complete, seeds, n_seeds,
    {accuracy,uar,macro_f1}_{mean,std,std_seeds}`` (fractions), ``params_m, gmacs, input,
    test_views, gmacs_test, train_time_per_fold_s, train_time_s, run_dir``; with two or more runs
    also the paired test against ``baseline`` (a run directory; default the first): ``baseline,
    paired_seeds, paired_clips, unit ("subject" or "clip"), n_units,
    {accuracy,uar}_diff{,_low,_high}`` (run − baseline, fractions), ``accuracy_p_value``,
    ``p_value`` (Δ UAR's), ``test``, ``mcnemar_b, mcnemar_c, mcnemar_clip_p`` and ``paired_note``;
    the bootstrap draws ``resamples`` resamples, the permutation test ``permutations`` sign
    patterns, both from generator ``seed``.
    Raises FervidError when the runs' datasets, classes, test folds or data differ, or a run's
    files fail the integrity checks, unless ``force``.
    """
    if not run_dirs:
        raise FervidError("compare needs at least one run directory")
    dirs = [Path(d) for d in run_dirs]
    base = _baseline_index(dirs, baseline)  # refuse a baseline that is not compared, first
    results = [load_results(d, force=force) for d in dirs]
    forced = False
    try:
        _check_comparable(results, dirs)
    except FervidError:
        if not force:
            raise
        forced = True
    rows = [_row(r, d) for r, d in zip(results, dirs)]
    _labels(rows)
    for row in rows:
        row["folds_cell"] = folds_cell(row)
    if len(rows) > 1:
        _add_paired(rows, results, dirs, base, resamples=resamples, permutations=permutations, seed=seed)
    table = render_table(rows, forced=forced, warnings=_warnings(results, rows), baseline_named=baseline is not None)
    if html is not None:
        from fervid.htmlpage import write_page
        from fervid.results.html_report import render_compare_html
        from fervid.results.plots import plot_compare

        write_page(html, render_compare_html(rows, table, plot_compare(rows), forced=forced))
    if out is not None:
        from fervid.data.manifest import write_csv_atomic
        from fervid.results.plots import plot_compare

        out = Path(out)
        atomic_write_bytes(out, table.encode(), what="the comparison table")

        def cell(row, c):
            if c == "folds":
                return row["folds_cell"]
            v = row.get(c.removesuffix("_pct")) if c.endswith("_pct") else row.get(c)
            if c.endswith("_pct") and v is not None:
                v = round(v * 100, 3)
            return "" if v is None else v

        write_csv_atomic(out.with_suffix(".csv"), CSV_COLUMNS, [[cell(r, c) for c in CSV_COLUMNS] for r in rows])
        plot_compare(rows, out.with_suffix(".png"))
    return rows
