"""The synthetic generator's figure (``fervid synth --strip PNG``): each emotion, neutral to apex."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import cv2
import numpy as np

from fervid.data.synthetic_frames import FrameComposer
from fervid.data.synthetic_sequence import EMOTIONS, make_subject, noise_seed, plan_sequence
from fervid.errors import FervidError
from fervid.writes import atomic_write_bytes


def render_strip(path, *, seed: int = 0, columns: int = 6, intensity: float = 0.9, tile: int = 128) -> Path:
    """Write a PNG grid: one row per emotion (a different subject each), neutral → apex.

    Each row is a 16-frame sequence at apex intensity ``intensity``, ``columns`` frames from
    first to last, cropped around the face to ``tile`` × ``tile`` pixels, without sensor noise.
    """
    if columns < 2:
        raise FervidError(f"strip columns: need at least 2, got {columns}")
    size = (320, 240)
    label_w = 104
    rows = []
    for r, emotion in enumerate(EMOTIONS):
        subject = make_subject(seed, r)
        seq = plan_sequence(seed, subject, emotion, 16, intensity=(intensity, intensity))
        seq = dataclasses.replace(seq, noise=0.0)  # noise-free: keeps the README image small
        composer = FrameComposer(subject, size)
        frames = list(composer.frames(seq, noise_seed(seed, r, emotion)))
        half = int(0.62 * subject.place[2] * size[1])
        cx, cy = (int(v) for v in composer.centre)
        tiles = []
        for i in np.linspace(0, len(frames) - 1, columns).round().astype(int):
            f = cv2.copyMakeBorder(frames[i], half, half, half, half, cv2.BORDER_REPLICATE)
            crop = f[cy : cy + 2 * half, cx : cx + 2 * half]
            tiles.append(cv2.resize(crop, (tile, tile), interpolation=cv2.INTER_AREA))
        label = np.full((tile, label_w, 3), 255, np.uint8)
        cv2.putText(label, emotion, (6, tile // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (30, 30, 30), 1, cv2.LINE_AA)
        rows.append(np.hstack([label, *tiles]))
    header = np.full((24, rows[0].shape[1], 3), 255, np.uint8)
    for text, x in (("frame 0 (neutral)", label_w + 6), ("apex", header.shape[1] - 44)):
        cv2.putText(header, text, (x, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (30, 30, 30), 1, cv2.LINE_AA)
    grid = np.vstack([header, *rows])
    from PIL import Image  # Pillow comes with matplotlib

    # a dithered 256-colour palette keeps the README image small with no visible banding
    rgb = Image.fromarray(np.ascontiguousarray(grid[..., ::-1]))
    palette = rgb.quantize(256, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(buf, "PNG", optimize=True)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
