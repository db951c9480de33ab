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

from fervid.checkpoint import atomic_write_bytes
from fervid.inference.explain import Explanation

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


def _title(ex: Explanation) -> str:
    p = ex.probs[ex.target]
    truth = f", true label {ex.label}" if ex.label else ""
    return f"{ex.model}: saliency for {ex.target} (p = {p:.2f}; predicted {ex.predicted}{truth})"


def _frame_caption(ex: Explanation, i: int) -> str:
    f = int(ex.frame_index[i])
    return f"{f / ex.fps:.2f} s" if ex.fps else f"frame {f}"


def strip_png(ex: Explanation) -> bytes:
    """A PNG: face crops, their overlays, and the temporal importance of each frame beneath."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = len(ex.frames)
    fig = Figure(figsize=(1.25 * t + 0.9, 3.9), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, t, height_ratios=[1, 1, 0.7])
    over = overlays(ex)
    for i in range(t):
        for row, img in ((0, ex.frames[i]), (1, over[i])):
            ax = fig.add_subplot(grid[row, i])
            ax.imshow(img, interpolation="bilinear")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(_frame_caption(ex, i), fontsize=8)
            if i == 0:
                ax.set_ylabel(("face crop", "saliency")[row], fontsize=8)
    ax = fig.add_subplot(grid[2, :])
    ax.bar(range(t), ex.temporal, color="C1")
    ax.set_xlim(-0.5, t - 0.5)
    ax.set_xticks(range(t), [_frame_caption(ex, i) for i in range(t)], fontsize=7)
    ax.set_ylabel("importance", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(_title(ex), fontsize=9)
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
    paths = {k: out / f"{stem}.{ext}" for k, ext in (("strip", "png"), ("gif", "gif"), ("maps", "npy"),
                                                         ("json", "json"))}
    atomic_write_bytes(paths["strip"], strip_png(ex))
    atomic_write_bytes(paths["gif"], animation_gif(ex))
    buf = io.BytesIO()
    np.save(buf, ex.saliency.astype(np.float32))
    atomic_write_bytes(paths["maps"], buf.getvalue())
    doc = {**ex.to_dict(), "files": {k: p.name for k, p in paths.items() if k != "json"}}
    atomic_write_bytes(paths["json"], (json.dumps(doc, indent=2) + "\n").encode())
    return paths
