"""Temporal sampling: which ``num_frames`` frames of an ``n_frames`` sequence make a clip.

Modes:

- ``"uniform"`` (default, deterministic): the centre frame of each of ``num_frames`` equal
  segments spanning the whole sequence. This is the segment-centre test view of the common
  video-FER recipe, so ``"segment"`` at evaluation time gives the same frames.
- ``"last"``: the last ``num_frames`` frames, i.e. the apex end of a neutral → apex sequence.
- ``"segment"``: a random frame inside each equal segment (training jitter, TSN-style); with
  ``rng=None`` it falls back to the segment centre (``"uniform"``).

Sequences shorter than ``num_frames`` are padded by repeating frames, order preserved:
``"uniform"``/``"segment"`` repeat each frame in place (nearest frame), ``"last"`` repeats the
first frame at the front so the apex frames stay contiguous at the end.
"""

from __future__ import annotations

import numpy as np

from fervid.errors import FervidError

MODES = ("uniform", "last", "segment")


def sample_indices(
    n_frames: int, num_frames: int, mode: str = "uniform", *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Return ``num_frames`` frame indices into a sequence of ``n_frames`` frames.

    The result is a non-decreasing ``int64`` array of length ``num_frames`` with values in
    ``[0, n_frames)``.
    """
    if mode not in MODES:
        raise FervidError(f"unknown temporal sampling {mode!r}; choose one of {', '.join(MODES)}")
    if n_frames < 1:
        raise FervidError(f"cannot sample from a sequence of {n_frames} frames")
    if num_frames < 1:
        raise FervidError(f"num_frames must be at least 1, got {num_frames}")

    if mode == "last":
        start = n_frames - num_frames
        # Negative start means a short sequence: clipping repeats frame 0 at the front.
        return np.clip(np.arange(start, n_frames, dtype=np.int64), 0, None)

    if mode == "segment" and rng is not None:
        offsets = rng.random(num_frames)  # one position in [0, 1) inside each segment
    else:
        offsets = np.full(num_frames, 0.5)
    # Segment i covers [i, i + 1) * n / T; floor of a point inside it is a frame of that segment.
    # When n < T segments are shorter than a frame, so frames repeat in place.
    idx = np.floor((np.arange(num_frames) + offsets) * (n_frames / num_frames)).astype(np.int64)
    return np.minimum(idx, n_frames - 1)
