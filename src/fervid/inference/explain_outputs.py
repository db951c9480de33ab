"""What ``fervid explain`` writes: overlays (PNG strip, animated GIF), raw maps (.npy), a short JSON.

An overlay blends the ``turbo`` colour map into the face crop in proportion to the saliency, so
unimportant regions show the face unchanged. All writes are atomic.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from fervid.inference.explain import Explanation
from fervid.writes import atomic_write_bytes

OVERLAY_ALPHA = 0.6  # colour weight where the saliency is 1


def overlay(frame: np.ndarray, saliency: np.ndarray, *, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """Face crop uint8 ``(S, S, 3)`` RGB with saliency ``(S, S)`` in [0, 1] blended in: uint8 ``(S, S, 3)``."""
    from matplotlib import colormaps

    s = np.clip(saliency, 0, 1)[..., None]
    heat = colormaps["turbo"](s[..., 0])[..., :3] * 255
    return np.clip(frame * (1 - alpha * s) + heat * (alpha * s), 0, 255).astype(np.uint8)


def overlays(ex: Explanation) -> np.ndarray:
    """Every frame's overlay, uint8 ``(T, S, S, 3)``."""
    return np.stack([overlay(f, m) for f, m in zip(ex.frames, ex.saliency)])


def _title(ex: Explanation, *more: Explanation) -> str:
    truth = f", true label {ex.label}" if ex.label else ""
    targets = ", ".join(f"{e.target} (p = {e.probs[e.target]:.2f})" for e in (ex, *more))
    return f"{ex.model}: saliency for {targets}; predicted {ex.predicted}{truth}"


def _frame_caption(ex: Explanation, i: int) -> str:
    f = int(ex.frame_index[i])
    return f"{f / ex.fps:.2f} s" if ex.fps else f"frame {f}"


def outline(frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``frames`` uint8 ``(T, S, S, 3)`` with the border of each frame's ``mask`` (bool ``(T, S, S)``) in white."""
    import cv2

    out = frames.copy()
    for f, m in zip(out, mask):
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(f, contours, -1, (255, 255, 255), 1)
    return out


def strip_png(ex: Explanation, *more: Explanation, mask: np.ndarray | None = None) -> bytes:
    """A PNG: face crops, their overlays, and the temporal importance of each frame beneath.

    ``more``: explanations of the same frames for other classes (e.g. the true and the predicted
    class of a missed clip): one overlay row each, and their importance bars side by side.
    ``mask``: bool ``(T, S, S)``, a region outlined on the overlays (the synthetic AU masks: where
    the saliency should be). The crops are tiled into one image (one axes, not one per crop: a
    report draws several strips).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    exs = (ex, *more)
    if any(not np.array_equal(e.frame_index, ex.frame_index) for e in more):
        raise ValueError("strip_png: the explanations must be of the same frames")
    t, side = len(ex.frames), ex.frames.shape[1]
    rows = [("face crop", ex.frames)] + [
        (
            ("saliency" if not more else f"saliency: {e.target}") + ("\n(all zero)" if e.saliency.max() <= 0 else ""),
            overlays(e) if mask is None else outline(overlays(e), mask),
        )
        for e in exs
    ]  # all zero: e.g. Grad-CAM found no positive evidence for the class
    gap, step = max(1, side // 16), side + max(1, side // 16)
    mosaic = np.full((len(rows) * step - gap, t * step - gap, 3), 255, np.uint8)
    for r, (_, images) in enumerate(rows):
        for i, im in enumerate(images):
            mosaic[r * step : r * step + side, i * step : i * step + side] = im
    centres = np.arange(t) * step + side / 2
    fig = Figure(figsize=(1.25 * t + 0.9, 1.25 * len(rows) + 1.4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, height_ratios=[len(rows), 0.7], sharex=True)
    top.imshow(mosaic, interpolation="bilinear")
    top.tick_params(top=True, labeltop=True, bottom=False, labelbottom=False)
    top.set_xticks(centres, [_frame_caption(ex, i) for i in range(t)], fontsize=8)
    top.set_yticks(np.arange(len(rows)) * step + side / 2, [name for name, _ in rows], fontsize=8)
    top.tick_params(length=0)
    top.spines[:].set_visible(False)
    width = 0.8 * side / len(exs)
    for k, e in enumerate(exs):
        bottom.bar(
            centres + (k - (len(exs) - 1) / 2) * width,
            e.temporal,
            width=width,
            color=f"C{k + 1}",
            label=e.target if more else None,
        )
    if more:
        bottom.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    bottom.set_xlim(-gap / 2, t * step - gap / 2)
    bottom.tick_params(axis="x", labelbottom=True, labelsize=7)
    bottom.set_ylabel("importance", fontsize=8)
    bottom.tick_params(axis="y", labelsize=7)
    fig.suptitle(_title(*exs), fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def animation_gif(ex: Explanation, *, side: int = 160, ms_per_frame: int = 300) -> bytes:
    """An animated GIF, looping: face crop and overlay side by side, one frame per model frame."""
    import cv2
    from PIL import Image

    pics = []
    for i, (f, o) in enumerate(zip(ex.frames, overlays(ex))):
        pair = np.hstack([cv2.resize(x, (side, side), interpolation=cv2.INTER_LINEAR) for x in (f, o)])
        bar = np.full((18, pair.shape[1], 3), 255, np.uint8)
        text = f"{_frame_caption(ex, i)}  importance {ex.temporal[i]:.2f}"
        cv2.putText(bar, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (20, 20, 20), 1, cv2.LINE_AA)
        pics.append(Image.fromarray(np.vstack([pair, bar])))
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


def write_explanation(ex: Explanation, out_dir: str | os.PathLike, stem: str) -> dict[str, Path]:
    """Write ``stem.png`` (strip), ``stem.gif``, ``stem.npy`` (maps, float32 ``(T, S, S)``) and
    ``stem.json`` into ``out_dir``; returns the paths by kind."""
    out = Path(out_dir)
    paths = {
        k: out / f"{stem}.{ext}" for k, ext in (("strip", "png"), ("gif", "gif"), ("maps", "npy"), ("json", "json"))
    }
    atomic_write_bytes(paths["strip"], strip_png(ex))
    atomic_write_bytes(paths["gif"], animation_gif(ex))
    buf = io.BytesIO()
    np.save(buf, ex.saliency.astype(np.float32))
    atomic_write_bytes(paths["maps"], buf.getvalue())
    doc = {**ex.to_dict(), "files": {k: p.name for k, p in paths.items() if k != "json"}}
    atomic_write_bytes(paths["json"], (json.dumps(doc, indent=2) + "\n").encode())
    return paths
