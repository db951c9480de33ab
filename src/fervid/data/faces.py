"""Cropping face clips: the preprocessing of ``fervid prepare``, stored with every checkpoint.

A :class:`~fervid.data.detectors.FaceDetector` finds boxes ``(x, y, w, h, score)`` in one RGB
frame. The :class:`FaceCropper` runs it on every frame, tracks one face (the largest and most
central, then whichever box overlaps it best: :func:`~fervid.data.tracking.track`), lets frames
with no face borrow the nearest detected box, smooths boxes over time so the crop does not
jitter, and cuts a square crop with a margin, optionally rotated so the eyes are level.
``FaceCropper.config`` is the JSON-able dict stored in a prepared dataset's ``meta.json`` and in
checkpoints; ``FaceCropper.from_config`` rebuilds it. Every face of a video, detected faster:
:mod:`fervid.data.face_stage`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fervid.data.detectors import (  # noqa: F401  (re-exported: fervid.data.faces is where users look)
    DETECTORS,
    YUNET,
    Box,
    FaceDetector,
    HaarDetector,
    WholeFrameDetector,
    YuNetDetector,
    make_detector,
)
from fervid.data.tracking import fill_nearest, smooth, track  # noqa: F401  (re-exported)
from fervid.errors import FervidError


@dataclass
class CropResult:
    clip: np.ndarray  # (T, size, size, 3) uint8 RGB
    detected: np.ndarray  # (T,) bool: the detector found a face in this very frame
    boxes: np.ndarray  # (T, 4) float (x, y, w, h): the tracked face box after filling and smoothing
    # (T, 4) float (centre x, centre y, side, roll in degrees): what FaceCropper.cut needs to cut
    # the same crops from these frames, or from anything aligned with them (masks)
    geometry: np.ndarray | None = None

    @property
    def face_rate(self) -> float:
        return float(self.detected.mean()) if len(self.detected) else 0.0


class FaceCropper:
    """Detect, track, smooth and crop a face clip; see the module docstring.

    Args:
        detector: ``haar`` (default), ``none`` (pre-cropped data: the whole frame is resized),
            or ``yunet`` (``detector_model``, an ONNX file; ``None``: the registered YuNet weights).
        size: output side in pixels.
        margin: added on every side of the face box, as a fraction of its side.
        align: rotate each crop so the eyes are level (OpenCV's Haar eye cascade).
        smoothing: moving-average window over frames for box centre, size and angle.
        detect_max_side: frames are downscaled to this long side for detection only.
        detect_every, detect_size: ``1`` and ``full`` (the defaults) run the detector on every
            frame at ``detect_max_side``; otherwise faces are found as ``fervid predict`` finds
            them (:class:`~fervid.data.face_stage.FaceStage`: every ``detect_every`` frames, on a
            copy shrunk as far as the detector allows with ``auto``, followed in between).
            Stored in :attr:`config` only when not the defaults.
    """

    def __init__(
        self,
        *,
        detector: str = "haar",
        detector_model: str | None = None,
        size: int = 112,
        margin: float = 0.2,
        align: bool = False,
        smoothing: int = 5,
        detect_max_side: int = 640,
        detect_every: int = 1,
        detect_size: str = "full",
    ):
        if size < 8:
            raise FervidError(f"crop size {size} is too small (use at least 8)")
        if margin < 0:
            raise FervidError(f"face margin {margin} must be >= 0")
        self.detector = make_detector(detector, model=detector_model)
        self.detector_model = detector_model
        self.size, self.margin, self.align = int(size), float(margin), bool(align)
        self.smoothing, self.detect_max_side = int(smoothing), int(detect_max_side)
        from fervid.data.face_stage import TrackSettings  # checks the values

        self.stage_settings = TrackSettings(detect_every=int(detect_every), detect_size=detect_size)
        self._eyes = None

    @property
    def config(self) -> dict:
        return {
            "detector": self.detector.name,
            "detector_model": self.detector_model,
            "size": self.size,
            "margin": self.margin,
            "align": self.align,
            "smoothing": self.smoothing,
            "detect_max_side": self.detect_max_side,
        } | self._fast_config()

    def _fast_config(self) -> dict:
        st = self.stage_settings
        if (st.detect_every, st.detect_size) == (1, "full"):
            return {}  # a prepared set made before these options existed has the same config
        return {"detect_every": st.detect_every, "detect_size": st.detect_size}

    @classmethod
    def from_config(cls, cfg: dict) -> FaceCropper:
        known = {"detector", "detector_model", "size", "margin", "align", "smoothing", "detect_max_side"}
        known |= {"detect_every", "detect_size"}
        unknown = set(cfg) - known
        if unknown:
            raise FervidError(f"preprocess config: unknown keys {sorted(unknown)}")
        return cls(**cfg)

    def _detections(self, frames: list[np.ndarray]) -> list[list[Box]]:
        """The faces in each frame: the detector on each, or (opted in) the fast face stage."""
        if not self._fast_config():
            return [self._detect(f) for f in frames]
        from fervid.data.face_stage import FaceStage

        stage = FaceStage(
            self.detector,
            detect_max_side=self.detect_max_side,
            fps=30.0,
            settings=self.stage_settings,
            expected_frames=len(frames),
        )
        found: list[list[Box]] = [[] for _ in frames]
        for f in frames:
            for s in stage.step(f):
                found[s.frame].append((*s.box, 1.0))
        return found

    def _detect(self, frame: np.ndarray) -> list[Box]:
        import cv2

        h, w = frame.shape[:2]
        scale = min(1.0, self.detect_max_side / max(h, w))
        if scale >= 1.0:
            return self.detector.detect(frame)
        small = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        return [(x / scale, y / scale, bw / scale, bh / scale, s) for x, y, bw, bh, s in self.detector.detect(small)]

    def crop(self, frames: list[np.ndarray]) -> CropResult:
        """Crop a face clip from ``frames`` (each ``(H, W, 3)`` uint8 RGB, all the same size)."""
        import cv2

        n = len(frames)
        if n == 0:
            raise FervidError("no frames to crop")
        h, w = frames[0].shape[:2]
        if self.detector.name == "none":
            clip = np.stack([cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_AREA) for f in frames])
            boxes = np.tile(np.array([0.0, 0.0, w, h]), (n, 1))
            geometry = np.tile(np.array([w / 2, h / 2, max(w, h), 0.0]), (n, 1))
            return CropResult(clip=clip, detected=np.ones(n, bool), boxes=boxes, geometry=geometry)

        chosen = track(self._detections(frames), w, h)
        detected = np.array([b is not None for b in chosen])
        if detected.any():
            # (cx, cy, side) per frame; a square keeps the crop's aspect ratio fixed.
            geo = np.array([[b[0] + b[2] / 2, b[1] + b[3] / 2, max(b[2], b[3])] if b else [0, 0, 0] for b in chosen])
            geo = smooth(fill_nearest(geo, detected), self.smoothing)
        else:
            # No face anywhere: a centred square, so callers still get a clip (marked undetected).
            geo = np.tile([w / 2, h / 2, min(w, h) / (1 + 2 * self.margin)], (n, 1))
        angles = np.zeros(n)
        if self.align and detected.any():
            angles = self._eye_angles(frames, geo, detected)
        geometry = np.concatenate([geo, angles[:, None]], axis=1)
        clip = self.cut(frames, geometry)
        boxes = np.stack([geo[:, 0] - geo[:, 2] / 2, geo[:, 1] - geo[:, 2] / 2, geo[:, 2], geo[:, 2]], axis=1)
        return CropResult(clip=clip, detected=detected, boxes=boxes, geometry=geometry)

    def cut(self, images, geometry: np.ndarray) -> np.ndarray:
        """Cut crops from ``images`` (frames ``(H, W, 3)`` or masks ``(H, W)``, uint8) with a
        :attr:`CropResult.geometry`: the same pixels ``crop`` cut from the frames it was computed on."""
        import cv2

        if self.detector.name == "none":
            return np.stack([cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_AREA) for f in images])
        return np.stack([self._cut(f, cx, cy, side, a) for f, (cx, cy, side, a) in zip(images, geometry)])

    def _cut(self, frame: np.ndarray, cx: float, cy: float, side: float, angle: float) -> np.ndarray:
        import cv2

        out = max(1, int(round(side * (1 + 2 * self.margin))))
        # Rotate about the face centre, then shift the square's corner to the origin; pixels
        # outside the frame repeat the border. Resizing after, with INTER_AREA, avoids aliasing.
        m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(angle), 1.0)
        m[:, 2] += (out / 2 - cx, out / 2 - cy)
        square = cv2.warpAffine(frame, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        interp = cv2.INTER_AREA if out > self.size else cv2.INTER_LINEAR
        return cv2.resize(square, (self.size, self.size), interpolation=interp)

    def eye_angle(self, frame: np.ndarray, cx: float, cy: float, side: float) -> float | None:
        """Roll (degrees) that levels the eyes of the face at ``(cx, cy, side)``; ``None`` without two eyes."""
        import cv2

        if self._eyes is None:
            self._eyes = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_eye.xml"))
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        face = frame[y0 : int(cy), x0 : int(cx + side / 2)]  # upper half
        if face.size == 0:
            return None
        eyes = self._eyes.detectMultiScale(
            cv2.cvtColor(face, cv2.COLOR_RGB2GRAY), 1.1, 5, minSize=(max(4, int(side / 10)),) * 2
        )
        left = [e for e in eyes if e[0] + e[2] / 2 < cx - x0]
        right = [e for e in eyes if e[0] + e[2] / 2 >= cx - x0]
        if not (left and right):
            return None
        (lx, ly, lw, lh), (rx, ry, rw, rh) = max(left, key=lambda e: e[2]), max(right, key=lambda e: e[2])
        a = math.degrees(math.atan2((ry + rh / 2) - (ly + lh / 2), (rx + rw / 2) - (lx + lw / 2)))
        return a if abs(a) < 30 else None  # a larger roll is a mis-detection (eyebrow, nostril)

    def _eye_angles(self, frames, geo: np.ndarray, detected: np.ndarray) -> np.ndarray:
        """Per-frame roll angle (degrees) that levels the eyes; frames without two eyes borrow."""
        angles = np.zeros((len(frames), 1))
        found = np.zeros(len(frames), bool)
        for i, (f, (cx, cy, side)) in enumerate(zip(frames, geo)):
            a = self.eye_angle(f, cx, cy, side) if detected[i] else None
            if a is not None:
                angles[i, 0], found[i] = a, True
        if not found.any():
            return np.zeros(len(frames))
        return smooth(fill_nearest(angles, found), self.smoothing)[:, 0]
