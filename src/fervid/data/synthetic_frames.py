"""Filming a planned synthetic sequence: the subject's face placed on its background, frame by
frame, with head motion, lighting and sensor noise.

:func:`make_background` draws a subject's backdrop; :class:`FrameComposer` warps the face the
renderer drew on the canonical canvas (:mod:`fervid.data.synthetic_render`) into the frame with
the sequence's pose, blends it over the backdrop, lights it and adds sensor noise;
:func:`render_sequence` returns a sequence's frames exactly as ``generate`` writes them (before
JPEG).
"""

from __future__ import annotations

import cv2
import numpy as np

from fervid.data.synthetic_sequence import Sequence, Subject, noise_seed
from fervid.data.synthetic_subject import HEAD_CENTRE


def make_background(subject: Subject, size: tuple[int, int]) -> np.ndarray:
    """An indoor-looking backdrop, float32 BGR (H, W, 3): a tinted gradient wall and a few soft
    blocks (doors, shelves); one per subject, like one recording session."""
    w, h = size
    rng = np.random.default_rng([subject.background_seed, 2])
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


class FrameComposer:
    """Places one subject's rendered face on its background, frame after frame."""

    def __init__(self, subject: Subject, size: tuple[int, int]):
        self.subject, self.size = subject, size
        self.background = make_background(subject, size)
        w, h = size
        Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
        self._ramp = ((X - w / 2) / w, (Y - h / 2) / w)  # lighting gradient, x and y
        px, py, ph = subject.place
        self.centre = np.array([px * w, py * h])
        self.scale = ph * h / (2.0 * subject.face.at.b)  # canonical px → frame px

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


def render_sequence(seq: Sequence, subject: Subject, size: tuple[int, int], seed: int) -> list[np.ndarray]:
    """All frames of one planned sequence, BGR uint8 (H, W, 3), exactly as ``generate`` writes them."""
    return list(FrameComposer(subject, size).frames(seq, noise_seed(seed, subject.index, seq.emotion)))
