"""Timeline plot of a prediction: class probabilities over time, face thumbnails above."""

from __future__ import annotations

import io
import os

import numpy as np

from fervid.checkpoint import atomic_write_bytes
from fervid.inference.api import VideoPrediction


def plot_timeline(pred: VideoPrediction, path: str | os.PathLike) -> None:
    """Write :func:`timeline_png` to ``path``."""
    atomic_write_bytes(path, timeline_png(pred), what="the timeline plot")


def timeline_png(pred: VideoPrediction) -> bytes:
    """A PNG: a row of face crops, then one probability curve per class at window centres.

    Windows without a face are shaded grey and leave a gap in the curves.
    """
    from matplotlib.figure import Figure  # Figure + Agg canvas: no pyplot global state, no display

    thumbs = pred.thumbnails
    n_t = max(1, len(thumbs))
    fig = Figure(figsize=(10, 5.2), dpi=110, layout="constrained")
    grid = fig.add_gridspec(2, n_t, height_ratios=[1, 2.2])
    for i, (t, img) in enumerate(thumbs):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(img)
        ax.set_title(f"{t:.1f} s", fontsize=9)
        ax.axis("off")

    ax = fig.add_subplot(grid[1, :])
    centres = np.array([(w.start_s + w.end_s) / 2 for w in pred.windows])
    for c in pred.classes:
        # NaN where there is no face so the line breaks instead of inventing a value
        y = np.array([w.probs[c] if w.probs else np.nan for w in pred.windows])
        ax.plot(centres, y, marker="o", ms=3, lw=1.6, label=c)
    shaded = False
    for w in pred.windows:
        if w.label is None:
            ax.axvspan(w.start_s, w.end_s, color="0.85", zorder=0, label=None if shaded else "no face (window)")
            shaded = True
    for t, _ in thumbs:  # where the crops above come from
        ax.axvline(t, color="0.5", lw=0.8, ls=":", zorder=0)
    duration = pred.frames / pred.fps
    ax.set_xlim(0, duration)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("time (s), window centres")
    ax.set_ylabel("probability")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    overall = pred.label or "no face"
    fig.suptitle(f"{os.path.basename(pred.video)}: {overall}  (face in {pred.face_rate:.0%} of frames)", fontsize=11)

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
