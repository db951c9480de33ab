"""``fervid report RUN --html`` and ``fervid compare ... --html``: one self-contained HTML file each.

The report page holds what report.md holds (protocol, per-fold (and per-seed) table with mean ±
std, summed confusion matrix, error analysis with frame strips) as real tables, saliency strips
of the most-missed clips (:mod:`fervid.results.html_errors`), and the run's plots (confusion
matrix, folds, training curves) embedded as data URIs. The comparison page holds the comparison
table, with the paired tests against the baseline, and its bar chart.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from fervid.htmlpage import Num, esc, img, page, table, write_page
from fervid.results.compare_md import _diff, _ms, _p, folds_cell, gmacs_cell, unit_words
from fervid.results.html_errors import errors_section, saliency_section
from fervid.results.metrics import SUMMARY_KEYS
from fervid.results.report import PLOTS
from fervid.results.report_md import _duration, _pct, _pm, _pm_seeds, integrity_lines, protocol_items

Section = Callable[[dict, Path], str | None]  # (results.json, run dir) -> HTML, or None to leave it out


def _pct_cell(x: float | None) -> Num:
    return Num(x, _pct(x))


def _seeds(r: dict) -> list:
    return r.get("seeds") or [r["split"].get("seed")]


def _clips(r: dict) -> int:
    """Test clips (each once, whatever the seeds; results.json made before n_test_clips: scorings / seeds)."""
    return r.get("n_test_clips") or r["n_test_total"] // max(len(_seeds(r)), 1)


def _header(r: dict) -> str:
    seeds = _seeds(r)
    done = f"{r['n_folds']}/{r['n_folds_expected']} folds" + (
        f" ({r['split']['k']} folds × {len(seeds)} seeds)" if len(seeds) > 1 else ""
    )
    out = [f"<h1>{esc(r['model'])} on {esc(r['dataset'])}: {esc(done)}{'' if r['complete'] else ' (incomplete)'}</h1>"]
    if not r["complete"]:
        missing = ", ".join(map(str, r["folds_missing"]))
        some = " for some seeds" if len(seeds) > 1 else ""
        out.append(
            f'<p class="warn"><strong>Incomplete run</strong>: folds {esc(missing)} have no result yet{some}; '
            f"the mean and std below are over {esc(done)} only and are not the "
            f"{esc(r['split']['k'])}-fold result.</p>"
        )
    for note in integrity_lines(r):
        warn = ' class="warn"' if "**Warning**" in note else ""
        out.append(f"<p{warn}>{esc(note.replace('**', ''))}</p>")
    return "\n".join(out)


def protocol_section(r: dict, run_dir: Path) -> str:
    items = "".join(f"<li>{esc(item)}</li>" for item in protocol_items(r))
    return f'<section id="protocol"><h2>Protocol</h2><ul>{items}</ul></section>'


def results_section(r: dict, run_dir: Path) -> str:
    """Per fold (seed and fold with several seeds), then mean ± std; with several seeds each seed's
    k-fold mean ± fold std, and the mean over seeds ± the std across seeds ± the fold std (report.md's)."""
    multi = len(_seeds(r)) > 1
    lead = 2 if multi else 1
    rows = []
    for f in r["folds"]:
        first = [str(f.get("seed")), str(f["fold"])] if multi else [str(f["fold"])]
        rows.append(
            [
                *first,
                Num(f["n_test"], str(f["n_test"])),
                _pct_cell(f["accuracy"]),
                _pct_cell(f["uar"]),
                _pct_cell(f["macro_f1"]),
                f"{f.get('selected_epoch') or '–'} / {f.get('epochs_run') or '–'}",
                _duration(f.get("train_time_s")),
            ]
        )
    m, s = r["mean"], r["std"]
    totals = []
    if not multi:
        rows.append(
            [
                "mean ± std",
                Num(_clips(r), str(_clips(r))),
                *(Num(m[k], _pm(m[k], s[k])) for k in SUMMARY_KEYS),
                "",
                f"{_duration(r['train_time_s'])} total",
            ]
        )
        totals.append(len(rows) - 1)
    else:
        for p in r["per_seed"]:
            n = sum(f["n_test"] for f in r["folds"] if f.get("seed") == p["seed"])
            rows.append(
                [
                    str(p["seed"]),
                    f"mean ± std ({p['n_folds']} folds)",
                    Num(n, str(n)),
                    *(Num(p["mean"][k], _pm(p["mean"][k], p["std"][k])) for k in SUMMARY_KEYS),
                    "",
                    "",
                ]
            )
        rows.append(
            [
                "all",
                f"mean over {len(r['per_seed'])} seeds",
                Num(_clips(r), str(_clips(r))),
                *(Num(m[k], _pm_seeds(m[k], r["std_seeds"][k], s[k])) for k in SUMMARY_KEYS),
                "",
                f"{_duration(r['train_time_s'])} total",
            ]
        )
        totals = list(range(len(r["folds"]), len(rows)))
    header = ["seed", "fold"][2 - lead :] + [
        "n_test",
        "accuracy (%)",
        "UAR (%)",
        "macro-F1 (%)",
        "selected epoch / run",
        "train time",
    ]
    out = [table(header, rows, total_rows=totals, table_id="folds")]
    if multi:
        out.append(
            "<p>With several seeds: each seed's k-fold mean ± the std over its folds, then the mean over "
            "seeds ± the sample std across seeds (seeds) ± the fold std averaged over seeds (folds).</p>"
        )
    if len(r["selection"]) > 1:
        out.append(
            "<p>Model selection per fold:</p><ul>"
            + "".join(
                f"<li>{'seed ' + esc(f.get('seed')) + ' ' if multi else ''}fold {esc(f['fold'])}: {esc(f['selection'])}</li>"
                for f in r["folds"]
            )
            + "</ul>"
        )
    return '<section id="results"><h2>Results</h2>' + "\n".join(out) + "</section>"


def confusion_section(r: dict, run_dir: Path) -> str:
    classes, rows = r["classes"], []
    for i, (name, row) in enumerate(zip(classes, r["confusion_matrix_sum"])):
        total = sum(row)
        recall = row[i] / total if total else None
        rows.append([name, *(Num(v, str(v)) for v in row), _pct_cell(recall)])
    done = f"{r['n_folds']}/{r['n_folds_expected']} folds"
    return (
        '<section id="confusion"><h2>Confusion matrix</h2>'
        + table(
            ["true \\ predicted", *classes, "recall (%)"],
            rows,
            table_id="confusion-matrix",
            caption=f"summed over {done}; rows = true class, counts",
        )
        + "</section>"
    )


def plots_section(r: dict, run_dir: Path) -> str | None:
    titles = {
        "confusion": "Confusion matrix, % of true class",
        "folds": "Accuracy and UAR per fold",
        "curves": "Training curves",
    }
    figs = [
        f"<figure>{img((run_dir / name).read_bytes(), titles[key])}<figcaption>{esc(titles[key])}</figcaption></figure>"
        for key, name in PLOTS.items()
        if key in r.get("plots", {}) and (run_dir / name).is_file()
    ]
    return '<section id="plots"><h2>Plots</h2>' + "\n".join(figs) + "</section>" if figs else None


# The page's sections, in order. A section that returns None (e.g. "errors" and "saliency" of a run
# whose folds wrote no predictions.csv) leaves an HTML comment in its place.
SECTIONS: list[tuple[str, Section | None]] = [
    ("protocol", protocol_section),
    ("results", results_section),
    ("confusion", confusion_section),
    ("errors", errors_section),  # fervid.results.html_errors
    ("saliency", saliency_section),
    ("plots", plots_section),
]


def render_report_html(results: dict, run_dir: str | os.PathLike) -> str:
    """The report page of a run from its ``results.json`` document and the plots beside it."""
    run_dir = Path(run_dir)
    body = [_header(results)]
    for name, build in SECTIONS:
        part = build(results, run_dir) if build is not None else None
        body.append(part if part is not None else f"<!-- section {esc(name)}: not available -->")
    return page(f"{results['model']} on {results['dataset']}", body)


def write_report_html(run_dir: str | os.PathLike, results: dict, out: str | os.PathLike | None = None) -> Path:
    """Write the report page (default ``RUN/report.html``) and return its path."""
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    write_page(path, render_report_html(results, run_dir))
    return path


def _diff_cells(row: dict, key: str) -> list:
    """Δ (run − baseline, fractions kept in data-value) and its 95 % interval, as compare's table shows them."""
    if row.get(f"{key}_diff") is None:
        return [_diff(row, key), ""]
    low, high = row[f"{key}_diff_low"], row[f"{key}_diff_high"]
    return [Num(row[f"{key}_diff"], f"{row[f'{key}_diff'] * 100:+.1f}"), f"[{low * 100:+.1f}, {high * 100:+.1f}]"]


def render_compare_html(rows: list[dict], table_md: str, chart_png: bytes, *, forced: bool) -> str:
    """The comparison page: one row per run (as ``compare_runs`` returns them), the paired tests
    against the baseline when there is one (a second table, same row order), and the bar chart."""
    body_rows, paired_rows = [], []
    for r in rows:
        body_rows.append(
            [
                r["label"],
                r["dataset"],
                r["protocol"],
                folds_cell(r),
                *(Num(r[f"{k}_mean"], _ms(r, k)) for k in SUMMARY_KEYS),
                Num(r["params_m"], "–" if r["params_m"] is None else f"{r['params_m']:.2f}"),
                Num(r["gmacs"], gmacs_cell(r)),
                _duration(r["train_time_per_fold_s"]),
            ]
        )
        paired_rows.append(
            [
                r["label"],
                *_diff_cells(r, "accuracy"),
                Num(r.get("accuracy_p_value"), _p(r.get("accuracy_p_value"))),
                *_diff_cells(r, "uar"),
                Num(r.get("p_value"), _p(r.get("p_value"))),
                unit_words(r),
                Num(r.get("mcnemar_clip_p"), _p(r.get("mcnemar_clip_p"))),
                Num(r.get("paired_clips"), "–" if r.get("paired_clips") is None else str(r["paired_clips"])),
                r.get("paired_seeds") or "–",
                r.get("paired_note") or "",
            ]
        )
    notes = [line for line in table_md.splitlines() if line and not line.startswith("|")]  # conventions under it
    body = ["<h1>Comparison</h1>"]
    if forced:
        body.append(
            '<p class="warn"><strong>Warning</strong>: these runs differ in dataset, folds or data (compared '
            "with --force); their numbers are not directly comparable.</p>"
        )
    body.append(
        table(
            [
                "model",
                "dataset",
                "protocol",
                "folds",
                "accuracy (%)",
                "UAR (%)",
                "macro-F1 (%)",
                "params (M)",
                "GMACs/clip",
                "train time/fold",
            ],
            body_rows,
            table_id="compare",
        )
    )
    if any(r.get("baseline") for r in rows):
        body.append(
            table(
                [
                    "model",
                    "Δ accuracy (points)",
                    "95 % CI",
                    "p (Δ accuracy)",
                    "Δ UAR (points)",
                    "95 % CI",
                    "p (Δ UAR)",
                    "unit",
                    "McNemar p (clips, descriptive)",
                    "paired clips",
                    "paired seeds",
                    "note",
                ],
                paired_rows,
                table_id="paired",
                caption=f"Paired tests against the baseline {rows[0]['baseline']}",
            )
        )
    for n in notes:
        if not n.startswith("**Warning**: these runs differ"):  # that one is above the table
            warn = ' class="warn"' if "**Warning**" in n else ""
            body.append(f"<p{warn}>{esc(n.replace('**', ''))}</p>")
    body.append(
        f"<figure>{img(chart_png, 'accuracy and UAR per run')}<figcaption>accuracy and UAR, mean ± std over "
        "folds</figcaption></figure>"
    )
    return page("fervid comparison", body)
