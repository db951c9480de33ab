"""Following faces over time: one face (:func:`track`) or every face (:class:`MultiTracker`).

:func:`track` is the one-face rule of ``fervid prepare``: start from the most prominent face
(large and central), then follow whichever box overlaps it best. :class:`MultiTracker` keeps
every face, in the manner of SORT/ByteTrack (Bewley et al. 2016; Zhang et al., ECCV 2022): each
track's box is predicted from its motion, the detector's boxes are matched to the predictions by
IoU with the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``), unmatched boxes start
tracks, and a track that is not seen stays alive for ``max_gap`` frames, so that a face hidden for
a moment (an occlusion, a turned head) keeps its ID. :func:`fill_nearest` and :func:`smooth` turn
a track's boxes into steady crop boxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Box = tuple  # (x, y, w, h, score) in frame pixels


def iou(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h, ...)`` boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, >=4) with every box in ``b`` (M, >=4): ``(N, M)``."""
    a, b = np.asarray(a, float)[:, :4], np.asarray(b, float)[:, :4]
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y2 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return inter / (union + 1e-9)


def containment(a, b) -> float:
    """Intersection of two ``(x, y, w, h)`` boxes over the smaller one's area (1: one inside the other)."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (min(a[2] * a[3], b[2] * b[3]) + 1e-9)


def prominence(box, frame_w: int, frame_h: int) -> float:
    # Area discounted by distance from the frame centre: the subject of a FER clip is
    # usually the largest face near the middle.
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    dist = math.hypot((cx - frame_w / 2) / frame_w, (cy - frame_h / 2) / frame_h)
    return box[2] * box[3] * max(0.05, 1.0 - 1.5 * dist)


def follow(boxes: list[Box], last: Box | None, frame_w: int, frame_h: int) -> Box | None:
    """One step of :func:`track`: the box in ``boxes`` that continues ``last``."""
    if not boxes:
        return None
    if last is not None:
        best = max(boxes, key=lambda b: iou(b, last))
        if iou(best, last) > 0.2:
            return best
    return max(boxes, key=lambda b: prominence(b, frame_w, frame_h))


def track(detections: list[list[Box]], frame_w: int, frame_h: int) -> list[Box | None]:
    """One box per frame: start from the most prominent face, then follow the best overlap."""
    chosen: list[Box | None] = []
    last = None
    for boxes in detections:
        pick = follow(boxes, last, frame_w, frame_h)
        chosen.append(pick)
        last = pick or last
    return chosen


def fill_nearest(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Rows of ``values`` (T, D) where ``known`` is False take the nearest known row (earlier on ties)."""
    idx = np.flatnonzero(known)
    if len(idx) == 0:
        return values
    t = np.arange(len(values))
    pos = np.searchsorted(idx, t)  # first known frame at or after t
    left, right = idx[np.clip(pos - 1, 0, len(idx) - 1)], idx[np.clip(pos, 0, len(idx) - 1)]
    nearest = np.where(np.abs(t - left) <= np.abs(right - t), left, right)
    return values[nearest]


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of (T, D) ``values`` over ``window`` frames, edges repeated."""
    if window <= 1 or len(values) < 2:
        return values
    half = window // 2
    padded = np.pad(values, ((half, half), (0, 0)), mode="edge")
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.stack([np.convolve(padded[:, d], kernel, mode="valid") for d in range(values.shape[1])], axis=1)


# While a track is unseen its predicted centre keeps moving, each frame at this fraction of the
# previous frame's speed: a face hidden while walking is looked for further on, but the guess
# stops drifting (at most 32 frames' worth of motion) when the face stood still behind something.
DAMPING = 0.97


@dataclass(eq=False)
class Track:
    """One face over time, as :class:`MultiTracker` keeps it."""

    key: int  # in order of creation, unique within one tracker
    box: np.ndarray  # (4,) float x, y, w, h in frame pixels: where it was last seen
    last_seen: int  # frame index
    first_seen: int
    hits: int = 1  # frames in which the detector (not a tracker) found it
    # centre motion between detections, pixels per frame
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    id: int | None = None  # given when the track is confirmed (MultiTracker.min_hits detections)
    data: dict = field(default_factory=dict)  # the caller's per-track state (an image template)
    detected_box: np.ndarray = field(init=False)  # where the detector last found it, and in which frame
    detected_at: int = field(init=False)

    def __post_init__(self) -> None:
        self.detected_box, self.detected_at = self.box, self.last_seen  # a track starts at a detection

    def predicted(self, frame: int) -> np.ndarray:
        """The box expected in ``frame`` from the last position and the damped velocity."""
        gap = max(0, frame - self.last_seen)
        travel = DAMPING * (1 - DAMPING**gap) / (1 - DAMPING)  # sum of DAMPING**k for k = 1..gap
        box = self.box.copy()
        box[:2] += self.velocity * travel
        return box

    def observe(self, frame: int, box, *, detected: bool) -> None:
        """Seen in ``frame`` at ``box`` (by the detector when ``detected``)."""
        box = np.asarray(box[:4], float)
        if detected:
            # Motion is measured between detections only. A face followed by its look can be
            # pulled off course for a frame by a face passing in front of it; were that step
            # taken as motion, the face would be looked for in the wrong place once it reappears.
            last = self.detected_box
            shift = (box[:2] + box[2:] / 2 - last[:2] - last[2:] / 2) / max(1, frame - self.detected_at)
            self.velocity = shift if self.hits == 1 else 0.5 * (self.velocity + shift)
            self.detected_box, self.detected_at = box, frame
            self.hits += 1
        self.box, self.last_seen = box, frame


class MultiTracker:
    """Tracks every face: predicted boxes, IoU cost, Hungarian matching, tracks kept through gaps.

    Args:
        max_gap: frames a track stays alive unseen before it ends.
        min_iou: a detection continues a track if it overlaps the track's predicted box by this much
            (or, for a track unseen in the previous frame, if its centre is within one face side of
            the predicted centre, at a similar size).
        min_hits: detections before a track is confirmed and gets an ``id`` (1, 2, ... in order of
            confirmation); fewer, and it was most likely a false detection.
    """

    def __init__(self, *, max_gap: int, min_iou: float = 0.2, min_hits: int = 3):
        self.max_gap, self.min_iou, self.min_hits = int(max_gap), float(min_iou), int(min_hits)
        self.tracks: list[Track] = []  # alive: seen within max_gap frames
        self.ended: list[Track] = []
        self._keys = 0
        self._ids = 0

    def update(self, frame: int, boxes: list[Box]) -> list[tuple[Track, Box]]:
        """Associate the detector's ``boxes`` in ``frame`` with the live tracks; start tracks for the
        rest, except boxes lying mostly (over half) on a face already matched or started in this
        frame. Returns each kept box with its track."""
        from scipy.optimize import linear_sum_assignment

        self.end_stale(frame)
        pairs: list[tuple[Track, Box]] = []
        unmatched = list(range(len(boxes)))
        if self.tracks and boxes:
            predicted = np.stack([t.predicted(frame) for t in self.tracks])
            dets = np.array([b[:4] for b in boxes], float)
            overlap = iou_matrix(predicted, dets)
            # Motion: centre distance in units of the predicted face's side. A face unseen for a
            # while (hidden, crossing behind another) may come back beside its guessed place: it
            # is taken up again within one face side, at a similar size.
            gap = np.array([frame - t.last_seen for t in self.tracks])
            side = predicted[:, 2:].max(axis=1)
            centre = lambda b: b[:, :2] + b[:, 2:] / 2  # noqa: E731
            dist = np.linalg.norm(centre(predicted)[:, None] - centre(dets)[None], axis=2) / side[:, None]
            ratio = dets[None, :, 2] / predicted[:, None, 2]
            near = (gap[:, None] > 1) & (dist < 1.0) & (ratio > 2 / 3) & (ratio < 3 / 2)
            allowed = (overlap >= self.min_iou) | near
            rows, cols = linear_sum_assignment(np.where(allowed, 1.0 - overlap + 0.1 * dist, 10.0))
            for r, c in zip(rows, cols):
                if allowed[r, c]:
                    self.tracks[r].observe(frame, boxes[c], detected=True)
                    pairs.append((self.tracks[r], boxes[c]))
                    unmatched.remove(c)
        taken = [np.asarray(b[:4], float) for _, b in pairs]
        for c in sorted(unmatched, key=lambda c: boxes[c][0]):  # faces that appear together: IDs left to right
            box = np.asarray(boxes[c][:4], float)
            if any(containment(box, other) > 0.5 for other in taken):
                continue  # a second box on a face already followed (Haar's shifted or nested duplicates)
            taken.append(box)
            t = Track(key=self._keys, box=np.asarray(boxes[c][:4], float), last_seen=frame, first_seen=frame)
            self._keys += 1
            self.tracks.append(t)
            pairs.append((t, boxes[c]))
        for t, _ in pairs:
            self.confirm(t, self.min_hits)
        return pairs

    def confirm(self, t: Track, min_hits: int) -> None:
        if t.id is None and t.hits >= min_hits:
            self._ids += 1
            t.id = self._ids

    def end_stale(self, frame: int) -> list[Track]:
        """End the tracks unseen for more than ``max_gap`` frames before ``frame``; returns them."""
        stale = [t for t in self.tracks if frame - t.last_seen > self.max_gap]
        if stale:
            self.tracks = [t for t in self.tracks if frame - t.last_seen <= self.max_gap]
            self.ended += stale
        return stale
