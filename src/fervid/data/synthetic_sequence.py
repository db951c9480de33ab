"""What the synthetic generator draws before any pixel: who each subject is and what each
sequence does.

- :func:`make_subject`: a :class:`Subject`, its face (:mod:`fervid.data.synthetic_subject`), how
  strongly it moves each Action Unit, where it sits in the frame, its background;
- :func:`plan_sequence`: a :class:`Sequence`, one emotion's FACS prototype (:data:`PROTOTYPES`)
  animated from neutral to apex, as in Oulu-CASIA: a few neutral frames, an onset of
  per-sequence length, then the apex held; with the head motion, lighting drift, blinks, gaze and
  sensor-noise level it is filmed with.

Apex intensity is drawn per sequence over a range that includes weak expressions, so that fear
vs surprise (which share AU1+2+5+26) and anger vs disgust (AU9 also lowers the brows and narrows
the eyes, like AU4+7) stay confusable when weak. Frame 0 of every sequence has all AU
intensities at zero, and every nuisance has the same distribution for every emotion, so the
label can only be read from the motion.

Every draw comes from a stream keyed by (seed, subject, what is drawn), so one subject or
sequence does not depend on how many others are generated, nor on the order they are made in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fervid.classes import BASIC6
from fervid.data.synthetic_render import AU_INDEX, AUS, FaceRenderer
from fervid.data.synthetic_subject import sample_face
from fervid.errors import FervidError

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


@dataclass(frozen=True)
class Subject:
    index: int
    face: FaceRenderer
    gains: np.ndarray  # (len(AUS),) how strongly this person moves each AU
    place: tuple[float, float, float]  # face centre x, y (fractions of the frame), head height / frame height
    background_seed: int


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


def plan_subject(
    seed: int, subject: Subject, frames: tuple[int, int], intensity: tuple[float, float]
) -> list[Sequence]:
    """The six sequences ``generate`` draws for ``subject``, in ``EMOTIONS`` order."""
    lengths = _rng(seed, subject.index, 50).integers(frames[0], frames[1] + 1, len(EMOTIONS))
    return [plan_sequence(seed, subject, e, int(n), intensity=intensity) for e, n in zip(EMOTIONS, lengths)]


def noise_seed(seed: int, subject: int, emotion: str) -> int:
    """The seed of the sensor noise that sequence (``subject``, ``emotion``) is filmed with."""
    return int(_rng(seed, subject, 100 + EMOTIONS.index(emotion)).integers(2**63))
