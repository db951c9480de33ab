"""Where a model is wrong: per class the classes it is taken for, and the clips most often
wrong across folds and seeds, computed from ``predictions.csv`` files alone.

:func:`error_analysis` returns plain, JSON-ready data, so any report (``report.md``, an HTML
page) can render it; :func:`write_error_strips` draws a strip of face-crop frames per clip.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from fervid.errors import FervidError


def error_analysis(predictions: Iterable, *, top_pairs: int = 3, top_clips: int = 12) -> dict:
    """Confusions and hardest clips of ``predictions``: paths of ``predictions.csv`` files, or
    ``(classes, rows)`` pairs as :func:`fervid.results.predictions.read_predictions` returns them.

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
    from fervid.results.predictions import read_predictions

    classes: list[str] | None = None
    rows: list[dict] = []
    for item in predictions:
        cls, part = read_predictions(item) if isinstance(item, (str, os.PathLike)) else item
        if classes is not None and list(cls) != classes:
            raise FervidError(
                f"{item if isinstance(item, (str, os.PathLike)) else 'predictions'}: classes "
                f"{', '.join(cls)} differ from the other predictions' {', '.join(classes)}"
            )
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
        confusions.append(
            {
                "true": c,
                "n": len(mine),
                "wrong": sum(counts.values()),
                "predicted_as": [{"class": p, "count": k, "fraction": k / len(mine)} for p, k in ranked],
            }
        )

    clips: dict[str, dict] = {}
    for r in rows:
        e = clips.setdefault(
            r["clip_id"],
            {
                "clip_id": r["clip_id"],
                "subject": r["subject"],
                "label": r["label"],
                "wrong": 0,
                "scored": 0,
                "predicted_as": {},
                "p_sum": 0.0,
                "folds": set(),
                "seeds": set(),
            },
        )
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
    return {
        "classes": classes,
        "n_scored": len(rows),
        "n_clips": len(clips),
        "confusions": confusions,
        "hardest": hardest[:top_clips],
    }


def _sorted(values: set) -> list:
    return sorted(v for v in values if v is not None)


def strip_name(clip_id: str) -> str:
    """File name of a clip's strip (``<clip_id>.png``, with anything but word characters, dots
    and dashes replaced: clip IDs come from folder and CSV names)."""
    return re.sub(r"[^\w.-]", "_", clip_id) + ".png"


def write_error_strips(
    prepared_dir: str | os.PathLike,
    clips: list[dict],
    out_dir: str | os.PathLike,
    *,
    frames: int = 5,
    height: int = 112,
) -> dict[str, str]:
    """One PNG per clip of ``clips`` (``error_analysis()["hardest"]`` entries) in ``out_dir``:
    ``frames`` face-crop frames spread evenly over the prepared clip, side by side, each scaled
    to ``height`` pixels. Returns ``{clip_id: file name}`` for the strips written; clips whose
    prepared file is gone are left out (the caller says so).

    Drawn with OpenCV, not matplotlib: a report writes a dozen of them, and a matplotlib figure
    each cost about as much as the rest of the report.
    """
    import cv2
    import numpy as np

    from fervid.data import read_manifest
    from fervid.writes import atomic_write_bytes

    files = {r.clip_id: Path(prepared_dir) / (r.file or f"clips/{r.clip_id}.npy") for r in read_manifest(prepared_dir)}
    written = {}
    for clip in clips:
        try:
            arr = np.load(files[clip["clip_id"]], mmap_mode="r", allow_pickle=False)  # (T, H, W, 3) uint8 RGB
        except (KeyError, OSError, ValueError):
            continue
        idx = np.unique(np.linspace(0, arr.shape[0] - 1, min(frames, arr.shape[0])).round().astype(int))
        width = max(1, round(arr.shape[2] * height / arr.shape[1]))
        gap = np.full((height, 4, 3), 255, dtype=np.uint8)
        tiles = [
            cv2.resize(np.ascontiguousarray(arr[t]), (width, height), interpolation=cv2.INTER_NEAREST) for t in idx
        ]
        strip = np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1)
        ok, png = cv2.imencode(".png", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
        if ok:
            name = strip_name(clip["clip_id"])
            atomic_write_bytes(Path(out_dir) / name, png.tobytes())
            written[clip["clip_id"]] = name
    return written
