"""The report page's per-clip sections (``fervid report RUN --html``), fed by the folds' ``predictions.csv``.

- ``errors``: results.json's error analysis (:mod:`fervid.results.errors_analysis`) as tables: per
  true class the classes it is most often taken for, and the clips most often wrong across folds
  and seeds, each with its frame strip (``RUN/errors/<clip>.png``, embedded in the page).
- ``saliency``: for the first :data:`SALIENCY_CLIPS` of those clips, ``fervid explain`` with the
  fold checkpoint that scored the clip (of its wrong scorings, the most confidently wrong one: its
  seed and fold are those of the ``predictions.csv`` holding it), for the clip's true class and
  for the class that checkpoint predicted, drawn as one strip. The cost is bounded: two
  explanations (a forward and a backward pass each) per clip. It needs the prepared data and the
  fold checkpoints on this machine; the page says when they are not there.
"""

from __future__ import annotations

from pathlib import Path

from fervid.errors import FervidError
from fervid.htmlpage import Markup, Num, esc, img, table
from fervid.results.report_md import _pct
from fervid.rundir import layout

SALIENCY_CLIPS = 3  # clips explained on the report page


def errors_section(r: dict, run_dir: Path) -> str | None:
    e = r.get("errors")
    if not e:
        return None
    out = [
        f"<p>From the per-clip predictions (<code>predictions.csv</code> of every fold): {e['n_scored']} "
        f"scorings of {e['n_clips']} clips over folds and seeds.</p>"
    ]
    for key, what in (("missing", "no predictions.csv"), ("empty", "an empty predictions.csv (a header, no row)")):
        if e.get(key):
            out.append(f'<p class="warn">Not included, {what}: {esc(", ".join(e[key]))}.</p>')
    rows = []
    for c in e["confusions"]:
        taken = ", ".join(f"{p['class']} {p['fraction'] * 100:.1f} % ({p['count']})" for p in c["predicted_as"])
        rows.append(
            [
                c["true"],
                Num(c["n"], str(c["n"])),
                Num(c["wrong"], str(c["wrong"])),
                Num(c["wrong"] / c["n"], _pct(c["wrong"] / c["n"])),
                taken or "–",
            ]
        )
    out.append(
        table(
            ["true class", "scored", "wrong", "wrong (%)", "most often predicted as (% of the class, count)"],
            rows,
            caption="Most confused, per true class",
            table_id="confusions",
        )
    )
    if e["hardest"]:
        strips = e.get("strips") or {}
        rows = []
        for h in e["hardest"]:
            taken = ", ".join(f"{c} ×{n}" for c, n in sorted(h["predicted_as"].items(), key=lambda kv: -kv[1]))
            path = run_dir / strips[h["clip_id"]] if h["clip_id"] in strips else None
            strip = (
                Markup(img(path.read_bytes(), f"frames of {h['clip_id']}", cls="frames"))
                if path is not None and path.is_file()
                else "–"
            )
            rows.append(
                [
                    h["clip_id"],
                    h["subject"],
                    h["label"],
                    Num(h["wrong"], str(h["wrong"])),
                    Num(h["scored"], str(h["scored"])),
                    taken,
                    Num(h["p_true"], f"{h['p_true']:.2f}"),
                    ", ".join(map(str, h["folds"])),
                    ", ".join(map(str, h["seeds"])),
                    strip,
                ]
            )
        out.append(
            table(
                ["clip", "subject", "true", "wrong", "scored", "predicted as", "p(true)", "folds", "seeds", "frames"],
                rows,
                table_id="hardest-clips",
                caption="Clips most often wrong (then the most confidently wrong: lowest mean probability "
                "of the true class)",
            )
        )
        if not any(isinstance(row[-1], Markup) for row in rows):
            out.append("<p>No frame strips: the prepared data are not on this machine.</p>")
    return '<section id="errors"><h2>Errors</h2>' + "\n".join(out) + "</section>"


def _prepared_dir(run_dir: Path) -> tuple[str | None, bool]:
    """The run's prepared data (config.yaml's ``data.path``) and whether it is on this machine."""
    from fervid.results.report import _section, read_config

    path = _section(read_config(run_dir), "data").get("path")
    return path, isinstance(path, str) and (Path(path) / "manifest.csv").is_file()


def worst_scorings(run_dir: Path, clip_ids: set[str]) -> dict[str, tuple[dict, Path]]:
    """Per clip of ``clip_ids``: its wrong scoring with the lowest probability of the true class
    (first in (seed, fold) order on a tie), as ``(predictions.csv row, fold folder)``."""
    from fervid.results.predictions import read_predictions

    found: dict[str, tuple[float, dict, Path]] = {}
    for _, _, fdir in layout.fold_dirs(run_dir):
        if not (fdir / "predictions.csv").is_file():
            continue
        classes, rows = read_predictions(fdir / "predictions.csv")
        for row in rows:
            if row["clip_id"] not in clip_ids or row["predicted"] == row["label"]:
                continue
            p_true = row["probs"][classes.index(row["label"])]
            if row["clip_id"] not in found or p_true < found[row["clip_id"]][0]:
                found[row["clip_id"]] = (p_true, row, fdir)
    return {c: (row, fdir) for c, (_, row, fdir) in found.items()}


def saliency_section(r: dict, run_dir: Path) -> str | None:
    e = r.get("errors")
    if not e:
        return None
    head = '<section id="saliency"><h2>Saliency of the most-missed clips</h2>'
    clips = e["hardest"][:SALIENCY_CLIPS]
    if not clips:
        return head + "<p>No clip was missed: nothing to explain.</p></section>"
    prepared, present = _prepared_dir(run_dir)
    if not present:
        return (
            head + f'<p class="warn">No saliency strips: the prepared data ({esc(prepared)}) are not on this '
            "machine. Run <code>fervid report RUN --html</code> where they are to add them.</p></section>"
        )
    from fervid.inference.api import load_model
    from fervid.inference.explain import explain_clip, load_prepared_clip
    from fervid.inference.explain_outputs import strip_png
    from fervid.inference.saliency import method_name

    multi = len(r.get("seeds") or []) > 1
    scorings = worst_scorings(run_dir, {c["clip_id"] for c in clips})
    predictors: dict[Path, object] = {}
    figures, notes = [], []
    for c in clips:
        if c["clip_id"] not in scorings:  # results.json older than the predictions
            notes.append(f"{c['clip_id']}: no wrong scoring in the folds' predictions.csv; run fervid report again")
            continue
        row, fdir = scorings[c["clip_id"]]
        by = (f"seed {row['seed']}, " if multi else "") + f"fold {row['fold']}"
        ckpt = fdir / "model.safetensors"
        try:
            if ckpt not in predictors:
                predictors[ckpt] = load_model(ckpt)
            clip, name, label = load_prepared_clip(data=prepared, clip_id=c["clip_id"])
            exs = [
                explain_clip(clip, predictors[ckpt], target=k, name=name, label=label)
                for k in (row["label"], row["predicted"])
            ]
        except FervidError as err:
            notes.append(f"{c['clip_id']}: not explained ({err})")
            continue
        p_true = row["probs"][r["classes"].index(row["label"])]
        caption = (
            f"{c['clip_id']} (subject {c['subject']}): true {row['label']}, predicted {row['predicted']} "
            f"(p(true) = {p_true:.2f}) by the checkpoint of {by}; saliency for the true and the predicted "
            "class"
        )
        alt = f"saliency of {c['clip_id']}"
        figures.append(f"<figure>{img(strip_png(*exs), alt)}<figcaption>{esc(caption)}</figcaption></figure>")
    method = method_name(r["model"]) if figures else ""
    intro = (
        f"<p>The {len(clips)} clips most often wrong, explained ({esc(method)}) with the fold checkpoint "
        "that scored each (where it was most confidently wrong), for the true class and for the class it "
        "predicted: face crops, one saliency row per class, and each frame's share of the decision "
        "(docs/explain.md).</p>"
    )
    tail = [f'<p class="warn">{esc(n)}</p>' for n in notes]
    return head + intro + "\n".join(figures + tail) + "</section>"
