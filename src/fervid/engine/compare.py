"""The study's table: one row per run directory, as Markdown, CSV and a bar chart, with paired
tests against a baseline run.

Runs are only comparable on the same dataset (same classes) and the same test-subject folds;
:func:`compare_runs` refuses anything else unless ``force=True``, because such a table would
compare different tasks. Data prepared differently (face crop, reader options, size) are
warned about. With two or more runs, each run is tested against the baseline on the clips both
scored (fervid.engine.paired): McNemar's exact p and paired-bootstrap 95 % intervals of the
accuracy and UAR differences.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from fervid.checkpoint import atomic_write_bytes
from fervid.engine.report import write_report
from fervid.engine.report_md import _duration, _pm, _pm_seeds
from fervid.errors import FervidError

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
    "mcnemar_b",
    "mcnemar_c",
    "mcnemar_p",
    "accuracy_diff_pct",
    "accuracy_diff_low_pct",
    "accuracy_diff_high_pct",
    "uar_diff_pct",
    "uar_diff_low_pct",
    "uar_diff_high_pct",
    "paired_note",
    "run_dir",
)
RESAMPLES = 2000  # paired bootstrap resamples of the clips


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
    rows: list[dict], results: list[dict], dirs: list[Path], baseline: int, *, resamples: int, seed: int
) -> None:
    """Paired tests of every run against ``rows[baseline]`` (fields in CSV_COLUMNS)."""
    from fervid.engine.paired import load_run_predictions, paired_comparison

    preds = [load_run_predictions(d) for d in dirs]
    for i, row in enumerate(rows):
        row["baseline"] = rows[baseline]["label"]
        if i == baseline:
            row["paired_note"] = "baseline"
            continue
        t = paired_comparison(results[baseline], results[i], preds[baseline], preds[i], resamples=resamples, seed=seed)
        if not t["tested"]:
            row["paired_note"] = f"not tested: {t['reason']}"
            continue
        row.update(
            paired_seeds=" ".join(map(str, t["seeds"])),
            paired_clips=t["n_clips"],
            mcnemar_b=t["b"],
            mcnemar_c=t["c"],
            mcnemar_p=t["mcnemar_p"],
        )
        for key in ("accuracy", "uar"):
            row[f"{key}_diff"], row[f"{key}_diff_low"], row[f"{key}_diff_high"] = t[f"{key}_diff"]
        shared = t["seeds"] != (results[i].get("seeds") or []) or t["seeds"] != (results[baseline].get("seeds") or [])
        row["paired_note"] = f"paired on seeds {row['paired_seeds']} only" if shared else ""


def _baseline_index(rows: list[dict], dirs: list[Path], baseline) -> int:
    if baseline is None:  # the best by mean UAR; the first on a tie
        return max(range(len(rows)), key=lambda i: (rows[i]["uar_mean"], -i))
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


def _ms(row: dict, key: str) -> str:
    if row["n_seeds"] > 1:
        return _pm_seeds(row[f"{key}_mean"], row[f"{key}_std_seeds"], row[f"{key}_std"])
    return _pm(row[f"{key}_mean"], row[f"{key}_std"])


def _diff(row: dict, key: str) -> str:
    if row.get(f"{key}_diff") is None:
        return "baseline" if row.get("paired_note") == "baseline" else "–"
    return (
        f"{row[f'{key}_diff'] * 100:+.1f} [{row[f'{key}_diff_low'] * 100:+.1f}, {row[f'{key}_diff_high'] * 100:+.1f}]"
    )


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def render_table(rows: list[dict], *, forced: bool = False, warnings: list[str] = ()) -> str:
    """Markdown table of :func:`compare_runs` rows, with the conventions under it."""
    paired = any(r.get("baseline") for r in rows)
    lines = [
        "| model | dataset | protocol | folds | accuracy (%) | UAR (%) | macro-F1 (%) | params (M) | GMACs/clip "
        "| train time/fold |" + (" Δ accuracy [95 % CI] | Δ UAR [95 % CI] | McNemar p |" if paired else ""),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if paired else ""),
    ]
    for r in rows:
        params = f"{r['params_m']:.2f}" if r["params_m"] is not None else "–"
        gmacs = f"{r['gmacs']:.3g}" if r["gmacs"] is not None else "–"
        if r["gmacs"] is not None and r["test_views"] > 1:
            gmacs += f" × {r['test_views']}"
        folds = r["folds"] + (f" ({r['n_seeds']} seeds)" if r["n_seeds"] > 1 else "")
        lines.append(
            f"| {r['label']} | {r['dataset']} | {r['protocol']} | {folds} | {_ms(r, 'accuracy')} | "
            f"{_ms(r, 'uar')} | {_ms(r, 'macro_f1')} | {params} | {gmacs} | {_duration(r['train_time_per_fold_s'])} |"
            + (f" {_diff(r, 'accuracy')} | {_diff(r, 'uar')} | {_p(r.get('mcnemar_p'))} |" if paired else "")
        )
    per_run = [f"{r['label']} {r['input']}" for r in rows if r["input"]]
    sizes = {r["input"] for r in rows if r["input"]}
    inputs = f" (T×H×W {sizes.pop()})" if len(sizes) == 1 else f" ({', '.join(per_run)})" if sizes else ""
    lines += [
        "",
        "Mean ± sample std (ddof=1) over folds (no std for a single fold); with several seeds, the mean over "
        "seeds of the k-fold means ± the std across seeds, beside the fold std; accuracy = WAR, "
        f"UAR = mean per-class recall. GMACs: multiply-accumulates per clip, one view{inputs}"
        + ("; × N: the test views averaged per clip." if any(r["test_views"] > 1 for r in rows) else "."),
    ]
    if paired:
        base = next(r["label"] for r in rows if r.get("paired_note") == "baseline")
        lines.append(
            f"Paired against the baseline {base}, on the test clips both runs scored in their shared seeds: "
            "Δ = run − baseline in points, pooled over those clips (not the mean over folds), with a paired "
            f"bootstrap 95 % interval ({RESAMPLES} resamples of clips, seeded); McNemar's exact test on per-clip "
            "correctness, per seed, the largest p shown."
        )
        notes = [
            f"{r['label']} ({r['paired_note']})"
            for r in rows
            if r.get("paired_note") and r["paired_note"] != "baseline"
        ]
        if notes:
            lines.append(f"Paired-test notes: {'; '.join(notes)}.")
    partial = [r["label"] for r in rows if not r["complete"]]
    if partial:
        lines.append(f"Incomplete runs (mean over the folds present only): {', '.join(partial)}.")
    if forced:
        lines.append(
            "**Warning**: these runs differ in dataset or folds (compared with --force); "
            "their numbers are not directly comparable."
        )
    lines += list(warnings)
    return "\n".join(lines) + "\n"


def _prepared_warnings(results: list[dict], rows: list[dict]) -> list[str]:
    from fervid.engine.paired import prepared_differences

    found = [
        f"{row['label']} vs {rows[0]['label']}: {'; '.join(diff)}"
        for r, row in zip(results[1:], rows[1:])
        if (diff := prepared_differences(results[0].get("prepared"), r.get("prepared")))
    ]
    if not found:
        return []
    return [
        f"**Warning**: the runs' data were prepared differently ({' | '.join(found)}); "
        "they are not scored on the same inputs."
    ]


def compare_runs(
    run_dirs: Sequence[str | os.PathLike],
    out: str | os.PathLike | None = None,
    *,
    force: bool = False,
    baseline: str | os.PathLike | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    html: str | os.PathLike | None = None,
) -> list[dict]:
    """One row per run directory; with ``out`` (``X.md``) also writes ``X.md``, ``X.csv``, ``X.png``;
    with ``html`` a self-contained page of the table and chart (``fervid.engine.html_report``).

    Row keys: ``label, model, dataset, protocol, folds, complete, seeds, n_seeds,
    {accuracy,uar,macro_f1}_{mean,std,std_seeds}`` (fractions), ``params_m, gmacs, input,
    test_views, gmacs_test, train_time_per_fold_s, train_time_s, run_dir``; with two or more runs
    also the paired test against ``baseline`` (a run directory; default the best by UAR):
    ``baseline, paired_seeds, paired_clips, mcnemar_b, mcnemar_c, mcnemar_p,
    {accuracy,uar}_diff{,_low,_high}`` (run − baseline, fractions) and ``paired_note``; the
    bootstrap draws ``resamples`` resamples from generator ``seed``.
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
    if len(rows) > 1:
        _add_paired(rows, results, dirs, _baseline_index(rows, dirs, baseline), resamples=resamples, seed=seed)
    elif baseline is not None:
        _baseline_index(rows, dirs, baseline)  # still refuse a baseline that is not compared
    if html is not None:
        from fervid.engine.html_report import render_compare_html
        from fervid.engine.plots import plot_compare
        from fervid.htmlpage import write_page

        write_page(
            html,
            render_compare_html(
                rows,
                render_table(rows, forced=forced, warnings=_prepared_warnings(results, rows)),
                plot_compare(rows),
                forced=forced,
            ),
        )
    if out is not None:
        from fervid.data.manifest import write_csv_atomic
        from fervid.engine.plots import plot_compare

        out = Path(out)
        atomic_write_bytes(
            out,
            render_table(rows, forced=forced, warnings=_prepared_warnings(results, rows)).encode(),
            what="the comparison table",
        )

        def cell(row, c):
            v = row.get(c.removesuffix("_pct")) if c.endswith("_pct") else row.get(c)
            if c.endswith("_pct") and v is not None:
                v = round(v * 100, 3)
            return "" if v is None else v

        write_csv_atomic(out.with_suffix(".csv"), CSV_COLUMNS, [[cell(r, c) for c in CSV_COLUMNS] for r in rows])
        plot_compare(rows, out.with_suffix(".png"))
    return rows
