"""Where a model is wrong: per class the classes it is taken for, and the clips most often
wrong across folds and seeds, computed from ``predictions.csv`` files alone.

:func:`error_analysis` returns plain, JSON-ready data, so any report (``report.md``, an HTML
page) can render it; :func:`write_error_strips` draws a strip of face-crop frames per clip.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from fervid.errors import FervidError


def error_analysis(predictions: Iterable, *, top_pairs: int = 3, top_clips: int = 12) -> dict:
    """Confusions and hardest clips of ``predictions``: paths of ``predictions.csv`` files, or
    ``(classes, rows)`` pairs as :func:`fervid.engine.predictions.read_predictions` returns them.

    Returns::

        {"classes": [...], "n_scored": rows read (one per clip, fold and seed), "n_clips": distinct clips,
         "confusions": [  # one per true class with scored clips, in class order
             {"true": c, "n": scored, "wrong": w,
              "predicted_as": [{"class": p, "count": k, "fraction": k / n}, ...]}],  # top_pairs, most first
         "hardest": [  # top_clips clips wrong at least once
             {"clip_id", "subject", "label", "wrong": times wrong, "scored": times scored,
              "predicted_as": {class: count of wrong predictions}, "p_true": mean probability of the true class,
              "folds": [...], "seeds": [...]}]}

    Hardest first: most often wrong, then the larger wrong fraction, then the lower mean
    probability of the true class (the most confidently wrong), then clip_id.
    """
    from fervid.data.splits import natural_key
    from fervid.engine.predictions import read_predictions

    classes: list[str] | None = None
    rows: list[dict] = []
    for item in predictions:
        cls, part = read_predictions(item) if isinstance(item, (str, os.PathLike)) else item
        if classes is not None and list(cls) != classes:
            raise FervidError(f"{item if isinstance(item, (str, os.PathLike)) else 'predictions'}: classes "
                              f"{', '.join(cls)} differ from the other predictions' {', '.join(classes)}")
        classes = list(cls)
        rows += part
    if classes is None:
        raise FervidError("error analysis: no predictions given")

    confusions = []
    for c in classes:
        mine = [r for r in rows if r["label"] == c]
        if not mine:
            continue
        counts: dict[str, int] = {}
        for r in mine:
            if r["predicted"] != c:
                counts[r["predicted"]] = counts.get(r["predicted"], 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], classes.index(kv[0])))[:top_pairs]
        confusions.append({"true": c, "n": len(mine), "wrong": sum(counts.values()),
                           "predicted_as": [{"class": p, "count": k, "fraction": k / len(mine)} for p, k in ranked]})

    clips: dict[str, dict] = {}
    for r in rows:
        e = clips.setdefault(r["clip_id"], {"clip_id": r["clip_id"], "subject": r["subject"], "label": r["label"],
                                            "wrong": 0, "scored": 0, "predicted_as": {}, "p_sum": 0.0,
                                            "folds": set(), "seeds": set()})
        e["scored"] += 1
        e["p_sum"] += r["probs"][classes.index(r["label"])]
        e["folds"].add(r["fold"])
        e["seeds"].add(r["seed"])
        if r["predicted"] != r["label"]:
            e["wrong"] += 1
            e["predicted_as"][r["predicted"]] = e["predicted_as"].get(r["predicted"], 0) + 1
    hardest = []
    for e in clips.values():
        if e["wrong"]:
            p_true = e.pop("p_sum") / e["scored"]
            hardest.append({**e, "p_true": p_true, "folds": _sorted(e["folds"]), "seeds": _sorted(e["seeds"])})
    hardest.sort(key=lambda e: (-e["wrong"], -e["wrong"] / e["scored"], e["p_true"], natural_key(e["clip_id"])))
    return {"classes": classes, "n_scored": len(rows), "n_clips": len(clips), "confusions": confusions,
            "hardest": hardest[:top_clips]}


def _sorted(values: set) -> list:
    return sorted(v for v in values if v is not None)


def strip_name(clip_id: str) -> str:
    """File name of a clip's strip (``<clip_id>.png``, with anything but word characters, dots
    and dashes replaced: clip IDs come from folder and CSV names)."""
    return re.sub(r"[^\w.-]", "_", clip_id) + ".png"


def write_error_strips(prepared_dir: str | os.PathLike, clips: list[dict], out_dir: str | os.PathLike, *,
                       frames: int = 5) -> dict[str, str]:
    """One PNG per clip of ``clips`` (``error_analysis()["hardest"]`` entries) in ``out_dir``:
    ``frames`` face-crop frames spread evenly over the prepared clip, titled with the true and
    the wrong predicted classes. Returns ``{clip_id: file name}`` for the strips written; clips
    whose prepared file is gone are left out (the caller says so)."""
    import numpy as np

    from fervid.data import read_manifest
    from fervid.engine.plots import _figure, _save

    files = {r.clip_id: Path(prepared_dir) / (r.file or f"clips/{r.clip_id}.npy") for r in read_manifest(prepared_dir)}
    written = {}
    for clip in clips:
        path = files.get(clip["clip_id"])
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)  # (T, H, W, 3) uint8
        except (OSError, ValueError, TypeError):
            continue
        idx = np.unique(np.linspace(0, arr.shape[0] - 1, min(frames, arr.shape[0])).round().astype(int))
        fig = _figure(1.25 * len(idx) + 0.2, 1.75)
        for j, t in enumerate(idx):
            ax = fig.add_subplot(1, len(idx), j + 1)
            ax.imshow(np.asarray(arr[t]))
            ax.set_axis_off()
            ax.set_title(f"frame {t}", fontsize=7)
        wrong = ", ".join(f"{c} ×{n}" for c, n in sorted(clip["predicted_as"].items(), key=lambda kv: -kv[1]))
        fig.suptitle(f"{clip['clip_id']}: {clip['label']}, predicted {wrong} "
                     f"({clip['wrong']}/{clip['scored']} wrong)", fontsize=8)
        name = strip_name(clip["clip_id"])
        _save(fig, Path(out_dir) / name)
        written[clip["clip_id"]] = name
    return written
