"""What ``fervid predict`` returns: windows, face tracks and videos (plain dataclasses).

``VideoPrediction.to_dict()`` is the JSON form (docs/predict.md). With ``faces="largest"`` it is
the one-face form fervid has always written (``windows``, ``label``, ``probs`` at the top); with
``faces="all"`` each face is a track with its own windows and overall label.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

N_THUMBNAILS = 6  # face crops sampled across a video (or a track) for plots and pages


@dataclass
class WindowPrediction:
    """One window of a video. ``label``/``probs`` are ``None`` when it has no face."""

    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    face_rate: float  # fraction of the window's frames with a detected face
    label: str | None
    probs: dict[str, float] | None

    def to_dict(self) -> dict:
        return {
            "start_s": round(self.start_s, 4),
            "end_s": round(self.end_s, 4),
            "face_rate": round(self.face_rate, 4),
            "label": self.label,
            "probs": self.probs,
        }


@dataclass
class TrackPrediction:
    """One face followed through a video: the frames from the first to the last in which it was
    seen, its windows (laid from its first frame on, as a video's are from frame 0) and one
    overall label, the mean of its face windows' probabilities."""

    id: int  # 1, 2, ... in the order the faces were confirmed
    first_frame: int
    end_frame: int  # exclusive: one past the last frame in which the face was seen
    fps: float
    face_rate: float  # fraction of the track's frames in which the face was seen
    windows: list[WindowPrediction]
    label: str | None
    probs: dict[str, float] | None
    # A few (time in s, face crop uint8 (S, S, 3)) pairs for plots; not part of to_dict().
    thumbnails: list[tuple[float, np.ndarray]] = field(default_factory=list, repr=False, compare=False)
    boxes: np.ndarray | None = field(default=None, repr=False, compare=False)  # (n, 4) x, y, w, h per frame
    seen: np.ndarray | None = field(default=None, repr=False, compare=False)  # (n,) bool per frame
    clip: np.ndarray | None = field(default=None, repr=False, compare=False)  # (n, S, S, 3) crops, when kept

    @property
    def first_s(self) -> float:
        return self.first_frame / self.fps

    @property
    def last_s(self) -> float:
        """End of the last frame in which the face was seen (as a window's ``end_s``)."""
        return self.end_frame / self.fps

    def box_at(self, frame: int) -> np.ndarray | None:
        """The face's box ``(x, y, w, h)`` in ``frame``, ``None`` where it was not seen."""
        i = frame - self.first_frame
        if self.boxes is None or not 0 <= i < len(self.boxes) or not self.seen[i]:
            return None
        return self.boxes[i]

    def window_at(self, frame: int) -> WindowPrediction | None:
        """The labelled window around ``frame`` whose centre is nearest it (``None``: none covers it)."""
        around = [w for w in self.windows if w.label is not None and w.start_frame <= frame < w.end_frame]
        return min(around, key=lambda w: abs((w.start_frame + w.end_frame - 1) / 2 - frame), default=None)

    def to_dict(self) -> dict:
        """``{"id", "first_s", "last_s", "face_rate", "windows", "overall": {"label", "probs"}}``."""
        return {
            "id": self.id,
            "first_s": round(self.first_s, 4),
            "last_s": round(self.last_s, 4),
            "face_rate": round(self.face_rate, 4),
            "windows": [w.to_dict() for w in self.windows],
            "overall": {"label": self.label, "probs": self.probs},
        }


@dataclass
class VideoPrediction:
    """A whole video: its windows and one overall label; with ``faces="all"``, one track per face.

    The overall ``probs`` is the mean of the face windows' probabilities (each window counts
    once); ``label`` is its arg-max, ``None`` when no window has a face. With ``faces="all"``,
    ``windows``, ``label``, ``probs`` and ``thumbnails`` are those of the main track (the face
    seen in the most frames) so that code written for one face keeps working, and ``face_rate``
    is the fraction of frames with any face.
    """

    video: str
    fps: float
    frames: int
    face_rate: float  # fraction of all frames with a detected face
    windows: list[WindowPrediction]
    label: str | None
    probs: dict[str, float] | None
    classes: list[str]
    # Zero-shot: the prompts each class was scored against (meta.extra["prompts"]); None for a trained model.
    prompts: dict | None = None
    # A few (time in s, face crop uint8 (S, S, 3)) pairs for plots; not part of to_dict().
    thumbnails: list[tuple[float, np.ndarray]] = field(default_factory=list, repr=False, compare=False)
    faces: str = "largest"  # "largest": one face, fervid's original form; "all": every face, in tracks
    tracks: list[TrackPrediction] = field(default_factory=list)
    dropped_tracks: int = 0  # faces detected fewer than the confirmation count: most likely false detections

    def to_dict(self) -> dict:
        """The JSON form. ``faces="largest"``: ``{"video", "fps", "frames", "face_rate", "windows",
        "label", "probs"}``; ``faces="all"``: ``{"video", "fps", "frames", "face_rate", "tracks",
        "dropped_tracks"}``; either with ``"prompts"`` (recipe, templates, per-class prompts) for a
        zero-shot prediction."""
        head = {"video": self.video, "fps": round(self.fps, 4), "frames": self.frames}
        head["face_rate"] = round(self.face_rate, 4)
        if self.faces == "all":
            body = {"tracks": [t.to_dict() for t in self.tracks], "dropped_tracks": self.dropped_tracks}
        else:
            body = {"windows": [w.to_dict() for w in self.windows], "label": self.label, "probs": self.probs}
        return head | body | ({"prompts": self.prompts} if self.prompts is not None else {})
