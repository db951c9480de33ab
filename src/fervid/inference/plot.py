"""Timeline plot of a prediction: class probabilities over time, face thumbnails above
(one such timeline per face with ``faces="all"``)."""

from __future__ import annotations

import io
import os

import numpy as np

from fervid.inference.api import VideoPrediction
from fervid.writes import atomic_write_bytes


def plot_timeline(pred: VideoPrediction, path: str | os.PathLike) -> None:
    """Write :func:`timeline_png` to ``path``."""
    atomic_write_bytes(path, timeline_png(pred), what="the timeline plot")


def _timeline(fig, grid, row: int, windows, thumbs, classes, duration: float, *, legend: bool) -> None:
    """Thumbnails in ``grid`` row ``row``, the probability curves in row ``row + 1``."""
    n_t = max(1, len(thumbs))
    sub = grid[row, :].subgridspec(1, n_t)
    for i, (t, img) in enumerate(thumbs):
        ax = fig.add_subplot(sub[0, i])
        ax.imshow(img)
        ax.set_title(f"{t:.1f} s", fontsize=9)
        ax.axis("off")

    ax = fig.add_subplot(grid[row + 1, :])
    centres = np.array([(w.start_s + w.end_s) / 2 for w in windows])
    for c in classes:
        # NaN where there is no face so the line breaks instead of inventing a value
        y = np.array([w.probs[c] if w.probs else np.nan for w in windows])
        ax.plot(centres, y, marker="o", ms=3, lw=1.6, label=c)
    shaded = False
    for w in windows:
        if w.label is None:
            ax.axvspan(w.start_s, w.end_s, color="0.85", zorder=0, label=None if shaded else "no face (window)")
            shaded = True
    for t, _ in thumbs:  # where the crops above come from
        ax.axvline(t, color="0.5", lw=0.8, ls=":", zorder=0)
    ax.set_xlim(0, duration)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("time (s), window centres")
    ax.set_ylabel("probability")
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    return ax


def timeline_png(pred: VideoPrediction, track=None) -> bytes:
    """A PNG: a row of face crops, then one probability curve per class at window centres
    (with ``faces="all"``, one such pair of rows per face, on the video's time axis; ``track``:
    that face's only).

    Windows without a face are shaded grey and leave a gap in the curves.
    """
    from matplotlib.figure import Figure  # Figure + Agg canvas: no pyplot global state, no display

    duration = pred.frames / pred.fps
    name = os.path.basename(pred.video)
    tracks = pred.tracks if track is None else [track]
    if pred.faces != "all":
        fig = Figure(figsize=(10, 5.2), dpi=110, layout="constrained")
        grid = fig.add_gridspec(2, 1, height_ratios=[1, 2.2])
        _timeline(fig, grid, 0, pred.windows, pred.thumbnails, pred.classes, duration, legend=True)
        overall = pred.label or "no face"
        fig.suptitle(f"{name}: {overall}  (face in {pred.face_rate:.0%} of frames)", fontsize=11)
    else:
        n = len(tracks)
        fig = Figure(figsize=(10, 1.0 + 4.6 * n), dpi=110, layout="constrained")
        grid = fig.add_gridspec(2 * n, 1, height_ratios=[1, 2.2] * n)
        for i, t in enumerate(tracks):
            ax = _timeline(fig, grid, 2 * i, t.windows, t.thumbnails, pred.classes, duration, legend=True)
            ax.axvspan(t.first_s, t.last_s, ymin=0, ymax=0.015, color="k", lw=0)  # where the face is tracked
            ax.set_title(
                f"face {t.id}: {t.label or 'no face'}  ({t.first_s:.1f} - {t.last_s:.1f} s, "
                f"seen in {t.face_rate:.0%} of its frames)",
                fontsize=10,
                loc="left",
            )
        if track is None:
            m = len(pred.tracks)
            fig.suptitle(f"{name}: {m} face{'s' * (m != 1)}", fontsize=11)

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
