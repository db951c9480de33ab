"""Synthetic facial-expression videos written in the Oulu-CASIA layout (``fervid synth``).

:func:`generate` makes each subject (:func:`~fervid.data.synthetic_sequence.make_subject`), plans
its six sequences (:func:`~fervid.data.synthetic_sequence.plan_subject`), films them
(:class:`~fervid.data.synthetic_frames.FrameComposer`) and writes
``OUT/OriginalImg/VL/Strong/P001/<Expression>/000.jpeg …`` exactly as Oulu-CASIA is distributed,
plus ``OUT/synth.json`` (settings and, per sequence, the apex intensity and onset). The output is
deterministic for a seed down to the JPEG bytes, whatever the number of worker processes.

The generator's other parts stay importable from here: the plans (``PROTOTYPES``, ``EMOTIONS``,
``make_subject``, ``plan_sequence``, ``plan_subject``), the frames (``make_background``,
``render_sequence``) and the figure (``render_strip``).
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fervid.data.synthetic_frames import FrameComposer, make_background, render_sequence
from fervid.data.synthetic_sequence import (
    EMOTIONS,
    PROTOTYPES,
    Sequence,
    Subject,
    make_subject,
    noise_seed,
    plan_sequence,
    plan_subject,
)
from fervid.data.synthetic_strip import render_strip
from fervid.errors import FervidError
from fervid.writes import atomic_write_bytes

__all__ = [
    "EMOTIONS",
    "FOLDERS",
    "GENERATOR",
    "LAYOUT",
    "PROTOTYPES",
    "Sequence",
    "Subject",
    "SynthSummary",
    "generate",
    "make_background",
    "make_subject",
    "plan_sequence",
    "plan_subject",
    "render_sequence",
    "render_strip",
]

GENERATOR = "fervid-synth/1"
FOLDERS = {e: e.capitalize() for e in EMOTIONS}  # Oulu-CASIA's folder spelling
LAYOUT = ("OriginalImg", "VL", "Strong")


@dataclass
class SynthSummary:
    out: Path
    subjects: int
    sequences: int
    frames: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"wrote {self.sequences} sequences ({self.frames:,} frames) of {self.subjects} subjects "
            f"to {self.out} in {self.seconds:.1f} s"
        )


def _frame_range(frames) -> tuple[int, int]:
    lo, hi = (frames, frames) if isinstance(frames, (int, np.integer)) else tuple(frames)
    if not 3 <= lo <= hi:
        raise FervidError(f"frames per sequence: need 3 <= min <= max, got {frames!r}")
    return int(lo), int(hi)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise FervidError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "synth.json").is_file():
        raise FervidError(f"{out}: folder is not empty and was not written by fervid synth; choose another")


def _write_subject(
    root: Path,
    seed: int,
    s: int,
    frames: tuple[int, int],
    size: tuple[int, int],
    intensity: tuple[float, float],
    quality: int,
) -> list[dict]:
    """Render and write subject ``s``'s six sequences under ``root``; their records."""
    subject = make_subject(seed, s)
    composer = FrameComposer(subject, size)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    records = []
    for seq in plan_subject(seed, subject, frames, intensity):
        emotion = seq.emotion
        folder = root.joinpath(*LAYOUT, f"P{s + 1:03d}", FOLDERS[emotion])
        folder.mkdir(parents=True)
        for i, frame in enumerate(composer.frames(seq, noise_seed(seed, s, emotion))):
            ok, buf = cv2.imencode(".jpeg", frame, params)
            if not ok:
                raise FervidError(f"{folder}: JPEG encoding failed")
            (folder / f"{i:03d}.jpeg").write_bytes(buf.tobytes())
        records.append(
            {
                "subject": f"P{s + 1:03d}",
                "emotion": emotion,
                "n_frames": seq.n_frames,
                "apex": round(seq.apex, 4),
                "onset": seq.onset,
                "peak": seq.peak,
            }
        )
    return records


def generate(
    out,
    *,
    subjects: int = 20,
    frames: int | tuple[int, int] = (10, 30),
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    intensity: tuple[float, float] = (0.2, 1.0),
    quality: int = 90,
    workers: int = 1,
) -> SynthSummary:
    """Write a synthetic Oulu-CASIA-layout dataset to ``out`` and return a summary.

    ``out/OriginalImg/VL/Strong/P001/{Anger,…,Surprise}/000.jpeg …``: ``subjects`` subjects ×
    6 sequences, each with a length drawn from ``frames`` (``(min, max)`` or a fixed int),
    ``size = (width, height)`` JPEG frames, apex intensity drawn from ``intensity``, rendered
    by ``workers`` processes (the output does not depend on it). The tree is written next to
    ``out`` and moved into place at the end, so ``out`` is never left half-written; rewriting
    an earlier ``fervid synth`` folder replaces it.
    """
    start = time.perf_counter()
    out = Path(out)
    lo, hi = _frame_range(frames)
    w, h = (int(v) for v in size)
    if not (32 <= w <= 4096 and 32 <= h <= 4096):
        raise FervidError(f"frame size {w}x{h}: width and height must be 32..4096")
    if not 1 <= subjects <= 999:
        raise FervidError(f"subjects: need 1..999, got {subjects}")
    if not 0 <= intensity[0] <= intensity[1] <= 1.2:
        raise FervidError(f"intensity range {tuple(intensity)}: need 0 <= low <= high <= 1.2")
    if not 1 <= quality <= 100:
        raise FervidError(f"JPEG quality: need 1..100, got {quality}")
    if workers < 1:
        raise FervidError(f"workers: need at least 1, got {workers}")
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.synth-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    job = functools.partial(
        _write_subject, tmp, seed, frames=(lo, hi), size=(w, h), intensity=tuple(intensity), quality=quality
    )
    try:
        if workers > 1 and subjects > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(min(workers, subjects)) as pool:
                per_subject = list(pool.map(job, range(subjects)))
        else:
            per_subject = [job(s) for s in range(subjects)]
        records = [r for rs in per_subject for r in rs]
        meta = {
            "generator": GENERATOR,
            "seed": seed,
            "subjects": subjects,
            "frames": [lo, hi],
            "size": [w, h],
            "intensity": list(intensity),
            "quality": quality,
            "layout": "/".join(LAYOUT),
            "aus": {e: list(v) for e, v in PROTOTYPES.items()},
            "sequences": records,
        }
        atomic_write_bytes(tmp / "synth.json", json.dumps(meta, indent=1).encode())
        if out.exists():
            old = out.parent / f".{out.name}.synth-old"
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    n_frames = sum(r["n_frames"] for r in records)
    return SynthSummary(out, subjects, len(records), n_frames, time.perf_counter() - start)
