"""Every face in a video, frame by frame, fast: the face stage of ``fervid predict``.

Running the detector on every full-size frame is what makes prediction slow (Haar's cost grows
with the pixel count). :class:`FaceStage` takes frames one at a time and

- detects on a copy shrunk as far as the detector allows
  (:func:`~fervid.data.detectors.fast_scale`: the smallest face it looks for at full size
  stays findable), no further than the checkpoint's ``detect_max_side``;
- detects every ``detect_every`` frames only, and in the frames between follows each face by
  matching its look at the last detection (normalised cross-correlation, OpenCV's
  ``matchTemplate``) near where its motion predicts it; when a match is poor (a face turning
  away, leaving, hidden) it detects again at once;
- associates detections with tracks (:class:`~fervid.data.tracking.MultiTracker`), so each
  face keeps one ID across frames and short gaps.

``TrackSettings(detect_every=1, detect_size="full")`` is the exhaustive mode: the detector on
every frame at the checkpoint's detection size, as ``fervid prepare`` does.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from fervid.data.detectors import FaceDetector, fast_scale
from fervid.data.tracking import MultiTracker, Track
from fervid.errors import FervidError

# A face is followed between detections on a copy where it is this many pixels wide: enough to
# place a box within a few percent of its side, and matching costs the same for any face size.
TEMPLATE_SIDE = 32
# Normalised cross-correlation below this means the face no longer looks like it did: detect again.
MIN_MATCH = 0.6


@dataclass(frozen=True)
class TrackSettings:
    """How the face stage finds and follows faces (prediction-time settings, never stored in checkpoints).

    Attributes:
        detect_every: run the detector every this many frames (1: every frame), following faces
            in between.
        detect_size: ``auto``: detect on frames shrunk to the smallest size at which the detector
            still finds the smallest face it looks for at full size (for Haar, 240 px on the
            short side), never above the checkpoint's ``detect_max_side``; ``full``: at the
            checkpoint's ``detect_max_side``, as ``fervid prepare`` does.
        max_gap_s: seconds a face may go unseen (hidden, turned away) and keep its ID.
        min_hits: detections before a face is reported (fewer is most likely a false detection).
    """

    detect_every: int = 10
    detect_size: Literal["auto", "full"] = "auto"
    max_gap_s: float = 2.0
    min_hits: int = 3

    def __post_init__(self):
        if self.detect_every < 1:
            raise FervidError(f"detect every {self.detect_every} frames: must be at least 1")
        if self.detect_size not in ("auto", "full"):
            raise FervidError(f"detection size {self.detect_size!r}: choose auto or full")
        if self.max_gap_s < 0:
            raise FervidError(f"gap limit {self.max_gap_s} s must be >= 0")


FAST = TrackSettings()  # the default of `fervid predict`
EXHAUSTIVE = TrackSettings(detect_every=1, detect_size="full")  # the detector on every frame, as prepare


@dataclass
class Seen:
    """A face in one frame: its track, its box ``(x, y, w, h)`` in frame pixels, and how it was seen."""

    track: Track
    box: tuple[float, float, float, float]
    detected: bool  # by the detector in this frame (else: followed from a detection)
    frame: int = -1  # the frame; earlier than the current one when a new detection was followed back


@dataclass
class StageTimes:
    """Seconds spent in each part of the face stage (for benchmarks)."""

    shrink: float = 0.0
    detect: float = 0.0
    track: float = 0.0
    detections: int = 0  # frames the detector ran on
    frames: int = 0
    extra: dict = field(default_factory=dict)


class FaceStage:
    """Faces in a stream of frames; call :meth:`step` with each frame in order.

    Args:
        detector: a :class:`~fervid.data.detectors.FaceDetector`.
        detect_max_side: the checkpoint's detection size (long side, pixels).
        fps: the video's frame rate (turns ``max_gap_s`` into frames).
        settings: :class:`TrackSettings`.
        expected_frames: the video's length when known; a video too short for ``min_hits``
            detections confirms its faces with as many as it has.
    """

    def __init__(
        self,
        detector: FaceDetector,
        *,
        detect_max_side: int,
        fps: float,
        settings: TrackSettings = FAST,
        expected_frames: int | None = None,
    ):
        self.detector, self.settings, self.detect_max_side = detector, settings, int(detect_max_side)
        self.whole_frame = detector.name == "none"
        every = 1 if self.whole_frame else settings.detect_every
        self.every = every
        min_hits = settings.min_hits
        if expected_frames:
            min_hits = max(1, min(min_hits, -(-expected_frames // every)))
        self.tracker = MultiTracker(max_gap=max(1, round(settings.max_gap_s * (fps or 30))), min_hits=min_hits)
        self.frame = -1
        self.scale: float | None = None
        self.times = StageTimes()
        # The frames since the last detection (index, grey copy): a face found by the next
        # detection is followed back through them, so a face that appears (or reappears) between
        # detections is not missed for up to detect_every - 1 frames.
        self.recent: deque[tuple[int, np.ndarray]] = deque(maxlen=max(0, every - 1))

    @property
    def hold(self) -> int:
        """How many frames back :meth:`step` may report a face (``Seen.frame``)."""
        return self.recent.maxlen

    def _shrink(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        h, w = frame.shape[:2]
        if self.scale is None:
            self.scale = min(1.0, self.detect_max_side / max(h, w))
            if self.settings.detect_size == "auto":
                self.scale = min(self.scale, fast_scale(self.detector, h, w))
        size = (round(w * self.scale), round(h * self.scale))
        k = int(1 / self.scale)
        if self.settings.detect_size == "auto" and k >= 2:
            # INTER_AREA by a whole factor first (its fast path: 3x quicker on 1080p frames), then
            # the rest of the way; "full" keeps FaceCropper's one resize, and so its boxes exactly.
            mid = cv2.resize(frame, (w // k, h // k), interpolation=cv2.INTER_AREA)
            small = cv2.resize(mid, size, interpolation=cv2.INTER_AREA)
        elif self.scale < 1.0:
            small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        else:
            small = frame
        return small, cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)

    def step(self, frame: np.ndarray) -> list[Seen]:
        """The faces in the next frame (``(H, W, 3)`` uint8 RGB), in no particular order; after a
        detection, also the faces it found in the :attr:`hold` frames before (``Seen.frame``)."""
        self.frame += 1
        self.times.frames += 1
        t = self.frame
        if self.whole_frame:  # pre-cropped data: the frame is the face, one track
            h, w = frame.shape[:2]
            return self._detected(t, [(0.0, 0.0, float(w), float(h), 1.0)], None)
        t0 = time.perf_counter()
        small, gray = self._shrink(frame)
        t1 = time.perf_counter()
        self.times.shrink += t1 - t0
        followed = None if t % self.every == 0 else self._follow_all(t, gray)
        self.times.track += time.perf_counter() - t1
        if followed is not None:
            for s in followed:
                s.track.observe(t, s.box, detected=False)
            self.tracker.end_stale(t)
            self.recent.append((t, gray))
            return followed
        t2 = time.perf_counter()
        s = self.scale
        boxes = [(x / s, y / s, bw / s, bh / s, sc) for x, y, bw, bh, sc in self.detector.detect(small)]
        self.times.detect += time.perf_counter() - t2
        self.times.detections += 1
        t3 = time.perf_counter()
        seen = self._detected(t, boxes, gray)
        self.recent.clear()
        self.times.track += time.perf_counter() - t3
        return seen

    def _detected(self, t: int, boxes, gray) -> list[Seen]:
        last_seen = {tr.key: tr.last_seen for tr in self.tracker.tracks}
        seen = []
        for tr, box in self.tracker.update(t, boxes):
            seen.append(Seen(tr, tuple(float(v) for v in box[:4]), True, t))
            if gray is None:
                continue
            tr.data["template"] = self._template(gray, tr.box)
            before = last_seen.get(tr.key, -1)
            for g, earlier in reversed(self.recent):  # back through the frames since the last detection
                if g <= before:
                    break
                found = self._match(tr.data["template"], earlier, np.asarray(seen[-1].box), 0.25 * seen[-1].box[2])
                if found is None:
                    break
                seen.append(Seen(tr, found, False, g))
        return seen

    def finish(self) -> None:
        """End of the stream: a stream too short for ``min_hits`` detections confirms its faces
        with as many as it had."""
        need = max(1, min(self.tracker.min_hits, self.times.detections))
        for tr in self.tracker.tracks + self.tracker.ended:
            self.tracker.confirm(tr, need)

    # -- following a face between detections -------------------------------------------------
    def _template(self, gray: np.ndarray, box: np.ndarray):
        import cv2

        x, y, w, h = (box * self.scale).round().astype(int)
        patch = gray[max(0, y) : y + h, max(0, x) : x + w]
        if patch.shape != (h, w) or min(h, w) < 8:  # cut by the frame's edge: detect next frame instead
            return None
        k = min(1.0, TEMPLATE_SIDE / w)
        return k, cv2.resize(patch, (max(4, round(w * k)), max(4, round(h * k))), interpolation=cv2.INTER_AREA)

    def _follow_all(self, t: int, gray: np.ndarray) -> list[Seen] | None:
        """Each face seen in the previous frame, found again by its template; ``None`` if any is lost."""
        out = []
        for tr in self.tracker.tracks:
            if tr.last_seen != t - 1:
                continue  # unseen faces wait for the next detection
            box = self._follow(tr, t, gray)
            if box is None:
                return None
            out.append(Seen(tr, box, False, t))
        return out

    def _follow(self, tr: Track, t: int, gray: np.ndarray):
        box = tr.predicted(t)
        return self._match(tr.data.get("template"), gray, box, 0.25 * box[2] + float(np.abs(tr.velocity).max()))

    def _match(self, tpl, gray: np.ndarray, box: np.ndarray, pad: float):
        """Where template ``tpl`` best matches ``gray`` within ``pad`` pixels of ``box`` (frame pixels);
        ``None`` when nowhere well enough."""
        import cv2

        if tpl is None:
            return None
        k, patch = tpl
        x, y, w, h = box[:4] * self.scale
        pad *= self.scale  # room for the face to move
        x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
        x1, y1 = min(gray.shape[1], int(x + w + pad) + 1), min(gray.shape[0], int(y + h + pad) + 1)
        region = gray[y0:y1, x0:x1]
        sw, sh = round((x1 - x0) * k), round((y1 - y0) * k)
        if sw < patch.shape[1] or sh < patch.shape[0]:
            return None
        search = cv2.resize(region, (sw, sh), interpolation=cv2.INTER_AREA) if k < 1 else region
        scores = cv2.matchTemplate(search, patch, cv2.TM_CCOEFF_NORMED)
        _, best, _, (mx, my) = cv2.minMaxLoc(scores)
        if best < MIN_MATCH:
            return None
        s = self.scale
        return ((x0 + mx / k) / s, (y0 + my / k) / s, float(box[2]), float(box[3]))
