"""One face while a video streams in: its crops, windows and thumbnails (for
:class:`~fervid.inference.stream.VideoRun`), and what is drawn of it on a frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fervid.data.track_crops import Crop, CropStream
from fervid.inference.video_prediction import N_THUMBNAILS, TrackPrediction, WindowPrediction

THUMBNAIL_POOL = 64  # candidate crops kept per face for the thumbnails, thinned evenly as a video goes on


@dataclass
class Drawn:
    """A face to draw on one frame: its track ID, box ``(x, y, w, h)``, and latest label."""

    id: int
    box: np.ndarray
    label: str | None
    prob: float | None


class FaceRun:
    """One face's crops (those still needed), windows and thumbnails while the video streams in.

    ``track`` is the face stage's :class:`~fervid.data.tracking.Track` (``None``: the one face of
    ``faces="largest"``, ID 1).
    """

    def __init__(self, key: int, first: int, crops: CropStream, track=None):
        self.key, self.first, self.crops, self.track = key, first, crops, track
        self.seen: list[bool] = []  # per frame cut so far, from `first`
        self.boxes: list[np.ndarray] = []
        self.store: dict[int, np.ndarray] = {}  # crops of windows still to come
        self.kept: list[np.ndarray] | None = None  # every crop, when asked for
        self.next_start = first
        self.spans: list[tuple[int, int]] = []
        self.windows: list[WindowPrediction | None] = []  # None: waiting for the model
        self.last_seen = first - 1
        self.end: int | None = None
        self.emitted = 0
        self.thumbs: list[tuple[int, np.ndarray]] = []
        self.thumb_step, self.n_seen = 1, 0
        self.latest: WindowPrediction | None = None  # latest labelled window handed out

    @property
    def id(self) -> int | None:
        return 1 if self.track is None else self.track.id

    @property
    def cut(self) -> int:
        return self.first + len(self.seen)  # frames before this are cut

    def take(self, crops: list[Crop]) -> None:
        """Keep newly cut crops (and every ``thumb_step``-th seen one as a thumbnail candidate)."""
        for c in crops:
            self.seen.append(c.seen)
            self.boxes.append(c.box)
            self.store[c.frame] = c.image
            if self.kept is not None:
                self.kept.append(c.image)
            if c.seen:
                if self.n_seen % self.thumb_step == 0:
                    self.thumbs.append((c.frame, c.image))
                    if len(self.thumbs) > THUMBNAIL_POOL:
                        self.thumbs, self.thumb_step = self.thumbs[::2], self.thumb_step * 2
                self.n_seen += 1

    def truncate(self, last: int) -> None:
        """The face ended at frame ``last``: forget what was cut after it."""
        keep = last + 1 - self.first
        del self.seen[keep:], self.boxes[keep:]
        if self.kept is not None:
            del self.kept[keep:]
        self.thumbs = [(f, c) for f, c in self.thumbs if f <= last]

    def prediction(self, predictor, fps: float, *, so_far: bool = False, last: int | None = None) -> TrackPrediction:
        """The face's result: all of it, or (``so_far``) the windows handed out until now and the
        frames up to ``last``."""
        n = len(self.seen) if last is None else min(len(self.seen), last + 1 - self.first)
        seen = np.array(self.seen[:n], dtype=bool)
        windows = self.windows[: self.emitted] if so_far else list(self.windows)
        labelled = [w for w in windows if w.label is not None]
        classes = predictor.classes
        overall = np.mean([[w.probs[c] for c in classes] for w in labelled], axis=0) if labelled else None
        pool = [(f, c) for f, c in self.thumbs if f < self.first + n]
        picks = np.linspace(0, len(pool) - 1, min(N_THUMBNAILS, len(pool))).round().astype(int) if pool else []
        return TrackPrediction(
            id=self.id,
            first_frame=self.first,
            end_frame=self.first + n,
            fps=fps,
            face_rate=float(seen.mean()) if n else 0.0,
            windows=windows,
            label=classes[int(overall.argmax())] if overall is not None else None,
            probs=predictor._as_dict(overall) if overall is not None else None,
            thumbnails=[(pool[i][0] / fps, pool[i][1].copy()) for i in picks],
            boxes=np.array(self.boxes[:n]).reshape(-1, 4),
            seen=seen,
            clip=np.stack(self.kept) if self.kept else None,
        )
