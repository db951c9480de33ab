"""``fervid report RUN --html`` and ``fervid compare ... --html``: one self-contained HTML file each.

The report page holds what report.md holds (protocol, per-fold table with mean ± std, summed
confusion matrix) as real tables, and the run's plots (confusion matrix, folds, training curves)
embedded as data URIs. The comparison page holds the comparison table and its bar chart.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from fervid.engine.metrics import SUMMARY_KEYS
from fervid.engine.report import PLOTS
from fervid.engine.report_md import _duration, _pct, _pm, protocol_items
from fervid.htmlpage import Num, esc, img, page, table, write_page

Section = Callable[[dict, Path], Optional[str]]  # (results.json, run dir) -> HTML, or None to leave it out


def _pct_cell(x: Optional[float]) -> Num:
    return Num(x, _pct(x))


def _header(r: dict) -> str:
    done = f"{r['n_folds']}/{r['n_folds_expected']} folds"
    out = [f"<h1>{esc(r['model'])} on {esc(r['dataset'])}: {esc(done)}{'' if r['complete'] else ' (incomplete)'}</h1>"]
    if not r["complete"]:
        missing = ", ".join(map(str, r["folds_missing"]))
        out.append(f'<p class="warn"><strong>Incomplete run</strong>: folds {esc(missing)} have no result yet; '
                   f"the mean and std below are over {esc(done)} only and are not the "
                   f"{esc(r['split']['k'])}-fold result.</p>")
    return "\n".join(out)


def protocol_section(r: dict, run_dir: Path) -> str:
    items = "".join(f"<li>{esc(item)}</li>" for item in protocol_items(r))
    return f'<section id="protocol"><h2>Protocol</h2><ul>{items}</ul></section>'


def results_section(r: dict, run_dir: Path) -> str:
    rows = []
    for f in r["folds"]:
        rows.append([str(f["fold"]), Num(f["n_test"], str(f["n_test"])), _pct_cell(f["accuracy"]), _pct_cell(f["uar"]),
                     _pct_cell(f["macro_f1"]), f"{f.get('selected_epoch') or '–'} / {f.get('epochs_run') or '–'}",
                     _duration(f.get("train_time_s"))])
    m, s = r["mean"], r["std"]
    rows.append(["mean ± std", Num(r["n_test_total"], str(r["n_test_total"])),
                 *(Num(m[k], _pm(m[k], s[k])) for k in SUMMARY_KEYS), "", f"{_duration(r['train_time_s'])} total"])
    out = [table(["fold", "n_test", "accuracy (%)", "UAR (%)", "macro-F1 (%)", "selected epoch / run", "train time"],
                 rows, total_rows=[len(rows) - 1], table_id="folds")]
    if len(r["selection"]) > 1:
        out.append("<p>Model selection per fold:</p><ul>" + "".join(
            f"<li>fold {esc(f['fold'])}: {esc(f['selection'])}</li>" for f in r["folds"]) + "</ul>")
    return '<section id="results"><h2>Results</h2>' + "\n".join(out) + "</section>"


def confusion_section(r: dict, run_dir: Path) -> str:
    classes, rows = r["classes"], []
    for i, (name, row) in enumerate(zip(classes, r["confusion_matrix_sum"])):
        total = sum(row)
        recall = row[i] / total if total else None
        rows.append([name, *(Num(v, str(v)) for v in row), _pct_cell(recall)])
    done = f"{r['n_folds']}/{r['n_folds_expected']} folds"
    return ('<section id="confusion"><h2>Confusion matrix</h2>'
            + table(["true \\ predicted", *classes, "recall (%)"], rows, table_id="confusion-matrix",
                    caption=f"summed over {done}; rows = true class, counts") + "</section>")


def plots_section(r: dict, run_dir: Path) -> Optional[str]:
    titles = {"confusion": "Confusion matrix, % of true class", "folds": "Accuracy and UAR per fold",
              "curves": "Training curves"}
    figs = [f"<figure>{img((run_dir / name).read_bytes(), titles[key])}<figcaption>{esc(titles[key])}"
            "</figcaption></figure>" for key, name in PLOTS.items()
            if key in r.get("plots", {}) and (run_dir / name).is_file()]
    return '<section id="plots"><h2>Plots</h2>' + "\n".join(figs) + "</section>" if figs else None


# The page's sections, in order. EXTENSION POINTS, fed next round by per-fold predictions.csv
# (fold_XX/predictions.csv: clip_id, subject, label, predicted, p_<class>..., fold, seed):
#   "errors":   per-class error analysis, with frame strips of the most-missed clips;
#   "saliency": saliency strips (fervid.inference.explain + explain_outputs.overlays) of a few of them.
# Each is a Section function added here; until then the page carries an HTML comment in their place.
SECTIONS: list[tuple[str, Optional[Section]]] = [
    ("protocol", protocol_section),
    ("results", results_section),
    ("confusion", confusion_section),
    ("errors", None),
    ("saliency", None),
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


def render_compare_html(rows: list[dict], table_md: str, chart_png: bytes, *, forced: bool) -> str:
    """The comparison page: one row per run (as ``compare_runs`` returns them) and the bar chart."""
    body_rows = []
    for r in rows:
        body_rows.append([
            r["label"], r["dataset"], r["protocol"], r["folds"],
            *(Num(r[f"{k}_mean"], _pm(r[f"{k}_mean"], r[f"{k}_std"])) for k in SUMMARY_KEYS),
            Num(r["params_m"], "–" if r["params_m"] is None else f"{r['params_m']:.2f}"),
            Num(r["gmacs"], "–" if r["gmacs"] is None else f"{r['gmacs']:.3g}"),
            _duration(r["train_time_per_fold_s"]),
        ])
    notes = [line for line in table_md.splitlines() if line and not line.startswith("|")]  # conventions under it
    body = ["<h1>Comparison</h1>"]
    if forced:
        body.append('<p class="warn"><strong>Warning</strong>: these runs differ in dataset or folds (compared with '
                    "--force); their numbers are not directly comparable.</p>")
    body.append(table(["model", "dataset", "protocol", "folds", "accuracy (%)", "UAR (%)", "macro-F1 (%)",
                       "params (M)", "GMACs/clip", "train time/fold"], body_rows, table_id="compare"))
    body += [f"<p>{esc(n.replace('**', ''))}</p>" for n in notes if not n.startswith("**Warning")]
    body.append(f"<figure>{img(chart_png, 'accuracy and UAR per run')}<figcaption>accuracy and UAR, mean ± std over "
                "folds</figcaption></figure>")
    return page("fervid comparison", body)
