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
    return _in_segments(n_frames, num_frames, offsets)


def _in_segments(n_frames: int, num_frames: int, offsets: np.ndarray) -> np.ndarray:
    # Segment i covers [i, i + 1) * n / T; floor of a point inside it is a frame of that segment.
    # When n < T segments are shorter than a frame, so frames repeat in place.
    idx = np.floor((np.arange(num_frames) + offsets) * (n_frames / num_frames)).astype(np.int64)
    return np.minimum(idx, n_frames - 1)


def view_indices(n_frames: int, num_frames: int, mode: str = "uniform", views: int = 1) -> np.ndarray:
    """Frame indices of ``views`` evenly spaced temporal clips (test-time views): ``(views, num_frames)``.

    For ``"uniform"``/``"segment"`` sampling, view ``v`` takes from each of the ``num_frames``
    equal segments the frame at fraction ``(v + 0.5) / views`` of the segment, so the views
    interleave evenly over the whole sequence and ``views=1`` is the ``"uniform"`` clip (the
    test-time counterpart of training's random frame per segment; MMAction2's
    ``SampleFrames(num_clips=N, test_mode=True)`` likewise spreads N clips evenly). ``"last"``
    is a single window (the apex end): it takes ``views=1`` only.
    """
    if views < 1:
        raise FervidError(f"test views must be at least 1, got {views}")
    if views == 1:
        return sample_indices(n_frames, num_frames, mode)[None]
    if mode == "last":
        raise FervidError(f"{views} test views need sampling 'uniform' or 'segment'; 'last' is one window")
    sample_indices(n_frames, num_frames, mode)  # checks the arguments
    return np.stack([_in_segments(n_frames, num_frames, np.full(num_frames, (v + 0.5) / views)) for v in range(views)])
