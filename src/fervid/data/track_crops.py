"""One face's crops, cut frame by frame as a video streams in.

:meth:`FaceCropper.crop <fervid.data.faces.FaceCropper.crop>` needs the whole clip in memory; a
long or live video cannot be held. :class:`CropStream` gives the same crops from frames added one
at a time: a frame whose face was not seen borrows the nearest seen box, boxes are smoothed over
``smoothing`` frames (and eye angles likewise, with ``align``), so a frame's crop is final once the
boxes of the next ``smoothing // 2`` frames are known. Frames are cut ``lookahead`` frames after
they arrive; a borrowed box is the nearest one seen by then (for frames of a gap longer than the
lookahead, the last one before it). With every face seen this is exactly ``FaceCropper.crop``.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

import numpy as np

from fervid.data.faces import FaceCropper


class FrameBuffer:
    """The last ``keep`` frames of a stream, by frame index."""

    def __init__(self, keep: int):
        self._frames: deque[np.ndarray] = deque(maxlen=max(1, keep))
        self.last = -1  # index of the newest frame

    def add(self, frame: np.ndarray) -> int:
        self._frames.append(frame)
        self.last += 1
        return self.last

    def __getitem__(self, t: int) -> np.ndarray:
        return self._frames[t - self.last - 1]


@dataclass
class Crop:
    frame: int  # index in the video
    image: np.ndarray  # (size, size, 3) uint8 RGB
    seen: bool  # the face was seen in this very frame (else its box is borrowed)
    geometry: np.ndarray  # (4,) centre x, centre y, side, roll: FaceCropper.cut's geometry
    box: np.ndarray  # (4,) x, y, w, h of the smoothed face box


class CropStream:
    """Crops of one face from frame ``first`` on; see the module docstring.

    Args:
        cropper: size, margin, smoothing and alignment of the crops.
        first: index of the face's first frame.
        frame_size: ``(height, width)`` of the video's frames.
        lookahead: frames a crop waits for later boxes; at least ``hold + 2 * (smoothing // 2)``
            with alignment, ``hold + smoothing // 2`` without (smaller values are raised to that).
        hold: the last ``hold`` frames' boxes may still be given late (:meth:`revise`: a face
            found by a detection is followed back through the frames since the previous one).
    """

    def __init__(self, cropper: FaceCropper, first: int, frame_size: tuple[int, int], lookahead: int, hold: int = 0):
        self.cropper, self.first = cropper, int(first)
        self.h, self.w = frame_size
        self.half = cropper.smoothing // 2 if cropper.smoothing > 1 else 0
        self.align = cropper.align and cropper.detector.name != "none"
        self.hold = int(hold)
        self.lookahead = max(int(lookahead), self.hold + self.half * (2 if self.align else 1))
        self.raw: list[tuple[float, float, float]] = []  # (cx, cy, side) per frame from `first` (seen ones matter)
        self.seen_at: list[int] = []  # frames where the face was seen, ascending
        self.geo: list[np.ndarray] = []  # smoothed (cx, cy, side) of the frames done so far with stage 1
        self.angle_at: list[int] = []  # frames whose eyes gave an angle
        self.angle: list[float] = []
        self.end: int | None = None  # last frame, once the face has ended
        self.done = self.first  # next frame to cut

    @property
    def now(self) -> int:
        return self.first + len(self.raw) - 1

    def add(self, t: int, box) -> None:
        """The face's box ``(x, y, w, h)`` in frame ``t`` (the next frame), or ``None`` when not seen."""
        assert t == self.now + 1, f"frames out of order: {t} after {self.now}"
        if box is None:
            self.raw.append((0.0, 0.0, 0.0))
        else:
            x, y, bw, bh = box[:4]
            self.raw.append((x + bw / 2, y + bh / 2, max(bw, bh)))  # a square keeps the crop's aspect ratio
            self.seen_at.append(t)

    def revise(self, t: int, box) -> None:
        """The face was seen at ``box`` in frame ``t`` after all (one of the last ``hold`` frames)."""
        assert self.first + len(self.geo) <= t <= self.now, f"frame {t} is final or not added yet"
        x, y, bw, bh = box[:4]
        self.raw[t - self.first] = (x + bw / 2, y + bh / 2, max(bw, bh))
        i = bisect.bisect_left(self.seen_at, t)
        if i == len(self.seen_at) or self.seen_at[i] != t:
            self.seen_at.insert(i, t)

    def close(self, last: int) -> None:
        """The face's last frame is ``last`` (frames after it are dropped)."""
        self.end = last
        keep = last - self.first + 1
        del self.raw[keep:], self.geo[keep:]
        del self.seen_at[bisect.bisect_right(self.seen_at, last) :]
        n = bisect.bisect_right(self.angle_at, last)
        del self.angle_at[n:], self.angle[n:]

    def ready(self, frames: FrameBuffer) -> list[Crop]:
        """Cut the crops that are final now (all of them once :meth:`close` was called)."""
        ended = self.end is not None
        self._stage1(frames, self.end + 1 if ended else self.now - self.half - self.hold + 1)
        out = []
        while self.done <= (self.end if ended else self.now - self.lookahead):
            t = self.done
            cx, cy, side = self.geo[t - self.first]
            angle = self._angle(t)
            geometry = np.array([cx, cy, side, angle])
            out.append(
                Crop(
                    t,
                    self.cropper.cut([frames[t]], geometry[None])[0],
                    self._seen(t),
                    geometry,
                    self._box(cx, cy, side),
                )
            )
            self.done += 1
        return out

    # -- internals ---------------------------------------------------------------------------
    def _seen(self, t: int) -> bool:
        i = bisect.bisect_left(self.seen_at, t)
        return i < len(self.seen_at) and self.seen_at[i] == t

    def _filled(self, g: int) -> tuple[float, float, float] | None:
        last = self.end if self.end is not None else self.now
        g = min(max(g, self.first), last)  # beyond the ends: the end's box (FaceCropper.crop's edge padding)
        if not self.seen_at:
            return None
        return self.raw[self.seen_at[_nearest(self.seen_at, g)] - self.first]

    def _stage1(self, frames: FrameBuffer, upto: int) -> None:
        """Smoothed boxes (and eye angles) of the frames before ``upto``."""
        while self.first + len(self.geo) < upto:
            t = self.first + len(self.geo)
            near = [self._filled(g) for g in range(t - self.half, t + self.half + 1)]
            if near[0] is None:  # no face seen yet: a centred square, as FaceCropper.crop does without faces
                m = self.cropper.margin
                geo = np.array([self.w / 2, self.h / 2, min(self.w, self.h) / (1 + 2 * m)])
            else:
                geo = _mean(np.array(near))
            self.geo.append(geo)
            if self.align and self._seen(t):
                a = self.cropper.eye_angle(frames[t], *geo)
                if a is not None:
                    self.angle_at.append(t)
                    self.angle.append(a)

    def _angle(self, t: int) -> float:
        if not self.angle_at:
            return 0.0
        last = self.first + len(self.geo) - 1
        vals = []
        for g in range(t - self.half, t + self.half + 1):
            vals.append(self.angle[_nearest(self.angle_at, min(max(g, self.first), last))])
        return float(_mean(np.array(vals)[:, None])[0])

    def _box(self, cx: float, cy: float, side: float) -> np.ndarray:
        if self.cropper.detector.name == "none":
            return np.array([0.0, 0.0, self.w, self.h])
        return np.array([cx - side / 2, cy - side / 2, side, side])


def _mean(rows: np.ndarray) -> np.ndarray:
    """Column means of ``rows`` (n, D) computed as :func:`~fervid.data.tracking.smooth` does (same
    rounding, so the crops match ``FaceCropper.crop``'s to the pixel)."""
    kernel = np.ones(len(rows)) / len(rows)
    return np.array([np.convolve(rows[:, d], kernel, mode="valid")[0] for d in range(rows.shape[1])])


def _nearest(sorted_at: list[int], g: int) -> int:
    """Index in ``sorted_at`` (non-empty) of the entry nearest ``g``, the earlier one on a tie
    (as :func:`~fervid.data.tracking.fill_nearest` picks)."""
    i = bisect.bisect_left(sorted_at, g)
    left = sorted_at[i - 1] if i > 0 else None
    right = sorted_at[i] if i < len(sorted_at) else None
    return i if left is None or (right is not None and right - g < g - left) else i - 1
