"""Synthetic facial-expression videos in the Oulu-CASIA layout (``fervid synth``).

Each subject is a parametric face (:mod:`fervid.data.synthetic_subject`, drawn by
:mod:`fervid.data.synthetic_render`) with its own head shape, skin and hair, eye spacing, brows,
nose and mouth, on its own background. Each of the six sequences per subject animates the
emotion's FACS prototype from neutral to apex, as in Oulu-CASIA: a few neutral frames, an onset
of per-sequence length, then the apex held. Apex intensity is drawn per sequence over a range
that includes weak expressions, so that fear vs surprise (which share AU1+2+5+26) and anger vs
disgust (AU9 also lowers the brows and narrows the eyes, like AU4+7) stay confusable when weak.
Small head motion, a lighting drift, sensor noise and blinks vary per sequence, independent of
the label.

Frame 0 of every sequence has all AU intensities at zero, so the label can only be read from
the motion. ``generate`` writes ``OUT/OriginalImg/VL/Strong/P001/<Expression>/000.jpeg …``
exactly as Oulu-CASIA is distributed, plus ``OUT/synth.json`` (settings and, per sequence, the
apex intensity and onset), and is deterministic for a seed down to the JPEG bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fervid.checkpoint import atomic_write_bytes
from fervid.classes import BASIC6
from fervid.data.synthetic_render import AU_INDEX, AUS, FaceRenderer
from fervid.data.synthetic_subject import HEAD_CENTRE, sample_face
from fervid.errors import FervidError

GENERATOR = "fervid-synth/1"
# FACS prototypes (Ekman & Friesen's EMFACS predictions, as listed in the issue)
PROTOTYPES = {
    "anger": ("AU4", "AU5", "AU7", "AU23"),
    "disgust": ("AU9", "AU15", "AU16"),
    "fear": ("AU1", "AU2", "AU4", "AU5", "AU7", "AU20", "AU26"),
    "happiness": ("AU6", "AU12"),
    "sadness": ("AU1", "AU4", "AU15"),
    "surprise": ("AU1", "AU2", "AU5", "AU26"),
}
EMOTIONS = BASIC6
FOLDERS = {e: e.capitalize() for e in EMOTIONS}  # Oulu-CASIA's folder spelling
LAYOUT = ("OriginalImg", "VL", "Strong")


@dataclass(frozen=True)
class Sequence:
    """The plan of one sequence: everything random about it, drawn up front."""

    subject: int  # 0-based
    emotion: str
    aus: np.ndarray  # (T, len(AUS)) intensities; row 0 is all zeros
    apex: float  # expression intensity at the apex, before per-AU variation
    onset: int  # last neutral frame
    peak: int  # first apex frame
    pose: np.ndarray  # (T, 5): dx, dy (fractions of the frame), roll (deg), scale, x-squash
    light: np.ndarray  # (T, 2): gain, gradient strength
    light_dir: float  # gradient direction (rad)
    blink: np.ndarray  # (T,) eyelid closure 0..1
    gaze: tuple[float, float]
    noise: float  # sensor noise sigma (grey levels)

    @property
    def n_frames(self) -> int:
        return len(self.aus)


@dataclass(frozen=True)
class Subject:
    index: int
    face: FaceRenderer
    gains: np.ndarray  # (len(AUS),) how strongly this person moves each AU
    place: tuple[float, float, float]  # face centre x, y (fractions of the frame), head height / frame height
    background_seed: int


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


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def make_subject(seed: int, index: int) -> Subject:
    """Subject ``index``'s appearance; independent of how many subjects are generated."""
    rng = _rng(seed, index, 0)
    face = FaceRenderer(sample_face(rng))
    gains = rng.uniform(0.75, 1.2, len(AUS))
    place = (rng.uniform(0.44, 0.56), rng.uniform(0.47, 0.55), rng.uniform(0.5, 0.62))
    return Subject(index, face, gains, place, int(rng.integers(2**31)))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def plan_sequence(
    seed: int, subject: Subject, emotion: str, n_frames: int, *, intensity: tuple[float, float] = (0.2, 1.0)
) -> Sequence:
    """Draw the AU timeline, motion, lighting and noise of one sequence."""
    if emotion not in PROTOTYPES:
        raise FervidError(f"unknown emotion {emotion!r}; expected one of {', '.join(EMOTIONS)}")
    # The emotion keys the random stream only: every nuisance below has the same distribution
    # for every emotion, so frame 0 carries no label information.
    rng = _rng(seed, subject.index, 1 + EMOTIONS.index(emotion))
    T = n_frames
    t = np.arange(T, dtype=np.float64)
    onset = int(rng.integers(1, max(2, T // 5 + 1)))  # neutral frames: 0 .. onset-1
    rise = max(1.0, rng.uniform(0.35, 0.8) * (T - onset))
    apex = float(rng.uniform(*intensity))
    aus = np.zeros((T, len(AUS)))
    for name in PROTOTYPES[emotion]:
        k = AU_INDEX[name]
        lag = rng.uniform(0, 0.2) * rise  # AUs do not all start together
        level = apex * subject.gains[k] * rng.normal(1, 0.1)
        aus[:, k] = np.clip(level, 0, 1.2) * _smoothstep((t - onset + 1 - lag) / rise)
    aus[0] = 0.0
    peak = int(min(T - 1, np.ceil(onset - 1 + rise * 1.2)))

    def wobble(amp: float) -> np.ndarray:
        return amp * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t / max(T, 8) + rng.uniform(0, 2 * np.pi))

    pose = np.stack(
        [
            rng.normal(0, 0.012) + wobble(0.005),  # dx
            rng.normal(0, 0.012) + wobble(0.004),  # dy
            rng.normal(0, 2.0) + wobble(0.8),  # roll, degrees
            rng.uniform(0.96, 1.04) + wobble(0.008),  # scale
            1 - np.abs(rng.normal(0, 0.03) + wobble(0.01)),  # horizontal squash: a slight head turn
        ],
        1,
    )
    g0 = rng.uniform(0.85, 1.1)
    k0 = rng.uniform(0, 0.25)
    light = np.stack(
        [np.linspace(g0, g0 * rng.uniform(0.92, 1.08), T), np.linspace(k0, k0 * rng.uniform(0.6, 1.4), T)], 1
    )
    blink = np.zeros(T)
    if T > 4 and rng.uniform() < 0.35:
        b = int(rng.integers(2, T - 1))
        blink[b] = 1.0
        blink[b - 1] = blink[b + 1] = 0.45
    gaze = (float(rng.normal(0, 0.25)), float(rng.normal(0, 0.2)))
    return Sequence(
        subject.index,
        emotion,
        aus,
        apex,
        onset - 1,
        peak,
        pose,
        light,
        float(rng.uniform(0, 2 * np.pi)),
        blink,
        gaze,
        float(rng.uniform(1.0, 4.0)),
    )


def make_background(subject: Subject, size: tuple[int, int]) -> np.ndarray:
    """An indoor-looking backdrop, float32 BGR (H, W, 3): a tinted gradient wall and a few soft
    blocks (doors, shelves); one per subject, like one recording session."""
    w, h = size
    rng = _rng(subject.background_seed, 2)
    c1, c2 = rng.uniform(60, 210, 3), rng.uniform(60, 210, 3)
    mix = np.linspace(0, 1, h, dtype=np.float32)[:, None, None] * rng.uniform(0.3, 1.0)
    img = (c1 * (1 - mix) + c2 * mix) * np.ones((1, w, 1), np.float32)
    for _ in range(int(rng.integers(1, 5))):
        x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 0.9) * h
        x1, y1 = x0 + rng.uniform(0.1, 0.5) * w, y0 + rng.uniform(0.1, 0.8) * h
        block = img.copy()
        cv2.rectangle(block, (int(x0), int(y0)), (int(x1), int(y1)), rng.uniform(40, 230, 3).tolist(), -1)
        img = img + (block - img) * rng.uniform(0.3, 0.8)
    noise = cv2.resize(rng.standard_normal((max(2, h // 12), max(2, w // 12))).astype(np.float32), (w, h))
    img = img * (1 + 0.04 * noise[..., None])
    return np.clip(cv2.GaussianBlur(img, (0, 0), 0.01 * w + 0.5), 0, 255).astype(np.float32)


class _Composer:
    """Places one subject's rendered face on its background, frame after frame."""

    def __init__(self, subject: Subject, size: tuple[int, int]):
        self.subject, self.size = subject, size
        self.background = make_background(subject, size)
        w, h = size
        Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
        self._ramp = ((X - w / 2) / w, (Y - h / 2) / w)  # lighting gradient, x and y
        px, py, ph = subject.place
        self.centre = np.array([px * w, py * h])
        self.scale = ph * h / (2.0 * subject.face.b)  # canonical px → frame px

    @property
    def blur(self) -> float:
        return max(0.8, 0.45 / self.scale)  # more blur before a stronger downscale: no aliasing

    def affine(self, seq: Sequence, i: int) -> np.ndarray:
        """Frame ``i``'s 2x3 map from the canonical canvas to the frame (head motion, placement)."""
        w, h = self.size
        dx, dy, roll, scale, squash = seq.pose[i]
        th = np.deg2rad(roll)
        rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        A = rot @ np.diag([self.scale * scale * squash, self.scale * scale])
        t = self.centre + np.array([dx * w, dy * h]) - A @ np.array(HEAD_CENTRE)
        return np.hstack([A, t[:, None]])

    def lit_frame(self, seq: Sequence, i: int, aus: np.ndarray) -> np.ndarray:
        """Frame ``i`` drawn with AU intensities ``aus``, placed and lit, before sensor noise: float32 BGR."""
        w, h = self.size
        ramp = np.float32(np.cos(seq.light_dir)) * self._ramp[0] + np.float32(np.sin(seq.light_dir)) * self._ramp[1]
        face, alpha = self.subject.face.render(aus, blink=seq.blink[i], gaze=seq.gaze, blur=self.blur)
        M = self.affine(seq, i)
        face = cv2.warpAffine(face, M, (w, h), flags=cv2.INTER_LINEAR)
        a = cv2.warpAffine(alpha, M, (w, h), flags=cv2.INTER_LINEAR).astype(np.float32)
        a *= np.float32(-1 / 255)
        a += np.float32(1.0)  # 1 - alpha: how much background shows
        img = self.background * a[..., None]
        img += face  # premultiplied colour
        gain, grad = seq.light[i]
        light = np.float32(gain * grad) * ramp
        light += np.float32(gain)
        img *= light[..., None]
        return img

    def frames(self, seq: Sequence, noise_seed: int):
        """Yield the sequence's frames, BGR uint8 (H, W, 3)."""
        w, h = self.size
        # Sensor noise: one bank per sequence, a random window of it per frame (drawing fresh
        # noise for every frame would cost more than rendering the face).
        rng = np.random.default_rng(noise_seed)
        pad = 32
        bank = rng.standard_normal((h + pad, w + pad, 3), dtype=np.float32) * np.float32(seq.noise)
        for i in range(seq.n_frames):
            img = self.lit_frame(seq, i, seq.aus[i])
            oy, ox = rng.integers(0, pad, 2)
            yield cv2.add(img, bank[oy : oy + h, ox : ox + w], dtype=cv2.CV_8U)


def plan_subject(
    seed: int, subject: Subject, frames: tuple[int, int], intensity: tuple[float, float]
) -> list[Sequence]:
    """The six sequences ``generate`` draws for ``subject``, in ``EMOTIONS`` order."""
    lengths = _rng(seed, subject.index, 50).integers(frames[0], frames[1] + 1, len(EMOTIONS))
    return [plan_sequence(seed, subject, e, int(n), intensity=intensity) for e, n in zip(EMOTIONS, lengths)]


def render_sequence(seq: Sequence, subject: Subject, size: tuple[int, int], seed: int) -> list[np.ndarray]:
    """All frames of one planned sequence, BGR uint8 (H, W, 3), exactly as ``generate`` writes them."""
    return list(_Composer(subject, size).frames(seq, _noise_seed(seed, subject.index, seq.emotion)))


def _noise_seed(seed: int, subject: int, emotion: str) -> int:
    return int(_rng(seed, subject, 100 + EMOTIONS.index(emotion)).integers(2**63))


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
    composer = _Composer(subject, size)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    records = []
    for seq in plan_subject(seed, subject, frames, intensity):
        emotion = seq.emotion
        folder = root.joinpath(*LAYOUT, f"P{s + 1:03d}", FOLDERS[emotion])
        folder.mkdir(parents=True)
        for i, frame in enumerate(composer.frames(seq, _noise_seed(seed, s, emotion))):
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
        composer = _Composer(subject, size)
        frames = list(composer.frames(seq, _noise_seed(seed, r, emotion)))
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
