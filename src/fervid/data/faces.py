"""Face detection, tracking over time, and cropping of clips.

A :class:`FaceDetector` finds boxes ``(x, y, w, h, score)`` in one RGB frame. The
:class:`FaceCropper` runs it on every frame, tracks one face (the largest and most central,
then whichever box overlaps it best), lets frames with no face borrow the nearest detected
box, smooths boxes over time so the crop does not jitter, and cuts a square crop with a margin,
optionally rotated so the eyes are level. ``FaceCropper.config`` is the JSON-able dict stored in
a prepared dataset's ``meta.json`` and in checkpoints; ``FaceCropper.from_config`` rebuilds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from fervid.errors import FervidError
from fervid.models.detector_weights import YUNET
from fervid.models.hub import fetch_weights, get_weights, verify_path

Box = tuple  # (x, y, w, h, score) in frame pixels


class FaceDetector(Protocol):
    name: str

    def detect(self, frame_rgb: np.ndarray) -> list[Box]:
        """Faces in one ``(H, W, 3)`` uint8 RGB frame as ``(x, y, w, h, score)`` tuples."""


class HaarDetector:
    """OpenCV's frontal-face Haar cascade (``haarcascade_frontalface_default.xml``)."""

    name = "haar"

    def __init__(self, *, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: float = 0.1):
        import cv2

        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FervidError(f"{path}: cannot load OpenCV's Haar face cascade")
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, min_size

    def detect(self, frame_rgb: np.ndarray) -> list[Box]:
        import cv2

        gray = cv2.equalizeHist(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY))
        side = max(int(self.min_size * min(gray.shape)), 20)  # faces under 10% of the frame are noise
        rects, counts = self._cascade.detectMultiScale2(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(side, side)
        )
        return [(float(x), float(y), float(w), float(h), float(n)) for (x, y, w, h), n in zip(rects, counts)]


class WholeFrameDetector:
    """For pre-cropped data: the whole frame is the face."""

    name = "none"

    def detect(self, frame_rgb: np.ndarray) -> list[Box]:
        h, w = frame_rgb.shape[:2]
        return [(0.0, 0.0, float(w), float(h), 1.0)]


class YuNetDetector:
    """OpenCV's ``FaceDetectorYN`` (YuNet) from an ONNX model file; without one, the registered
    :data:`YUNET` weights (downloaded once into torch.hub's cache, SHA-256 checked)."""

    name = "yunet"

    def __init__(self, *, model: str | None = None, score_threshold: float = 0.7):
        import cv2

        if model is None:
            model = str(fetch_weights(get_weights(YUNET)))
        elif not Path(model).is_file():
            raise FervidError(f"{model}: YuNet model file not found (leave out --detector-model to use {YUNET})")
        else:
            verify_path(Path(model))  # a copy under the registered file name is checked against its hash
        try:
            self._net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold)
        except cv2.error as e:
            raise FervidError(f"{model}: cannot load YuNet model ({str(e).strip().splitlines()[-1]})") from None

    def detect(self, frame_rgb: np.ndarray) -> list[Box]:
        import cv2

        h, w = frame_rgb.shape[:2]
        self._net.setInputSize((w, h))
        _, faces = self._net.detect(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        if faces is None:
            return []
        return [(float(f[0]), float(f[1]), float(f[2]), float(f[3]), float(f[-1])) for f in faces]


DETECTORS = {"haar": HaarDetector, "none": WholeFrameDetector, "yunet": YuNetDetector}


def make_detector(name: str, **opts) -> FaceDetector:
    """A detector by name (``haar``, ``none``, ``yunet``); ``opts`` go to its constructor."""
    if name not in DETECTORS:
        raise FervidError(f"unknown face detector {name!r} (choose from {', '.join(DETECTORS)})")
    if name == "yunet":
        return YuNetDetector(**{k: v for k, v in opts.items() if v is not None})
    return DETECTORS[name](**{k: v for k, v in opts.items() if k != "model"})


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


def _iou(a, b) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)


def _prominence(box, frame_w: int, frame_h: int) -> float:
    # Area discounted by distance from the frame centre: the subject of a FER clip is
    # usually the largest face near the middle.
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    dist = math.hypot((cx - frame_w / 2) / frame_w, (cy - frame_h / 2) / frame_h)
    return box[2] * box[3] * max(0.05, 1.0 - 1.5 * dist)


def track(detections: list[list[Box]], frame_w: int, frame_h: int) -> list[Box | None]:
    """One box per frame: start from the most prominent face, then follow the best overlap."""
    chosen: list[Box | None] = []
    last = None
    for boxes in detections:
        pick = None
        if boxes and last is not None:
            best = max(boxes, key=lambda b: _iou(b, last))
            if _iou(best, last) > 0.2:
                pick = best
        if boxes and pick is None:
            pick = max(boxes, key=lambda b: _prominence(b, frame_w, frame_h))
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
    ):
        if size < 8:
            raise FervidError(f"crop size {size} is too small (use at least 8)")
        if margin < 0:
            raise FervidError(f"face margin {margin} must be >= 0")
        self.detector = make_detector(detector, model=detector_model)
        self.detector_model = detector_model
        self.size, self.margin, self.align = int(size), float(margin), bool(align)
        self.smoothing, self.detect_max_side = int(smoothing), int(detect_max_side)
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
        }

    @classmethod
    def from_config(cls, cfg: dict) -> FaceCropper:
        known = {"detector", "detector_model", "size", "margin", "align", "smoothing", "detect_max_side"}
        unknown = set(cfg) - known
        if unknown:
            raise FervidError(f"preprocess config: unknown keys {sorted(unknown)}")
        return cls(**cfg)

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

        chosen = track([self._detect(f) for f in frames], w, h)
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

    def _eye_angles(self, frames, geo: np.ndarray, detected: np.ndarray) -> np.ndarray:
        """Per-frame roll angle (degrees) that levels the eyes; frames without two eyes borrow."""
        import cv2

        if self._eyes is None:
            self._eyes = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_eye.xml"))
        angles = np.zeros((len(frames), 1))
        found = np.zeros(len(frames), bool)
        for i, (f, (cx, cy, side)) in enumerate(zip(frames, geo)):
            if not detected[i]:
                continue
            x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
            face = cv2.cvtColor(f[y0 : int(cy), x0 : int(cx + side / 2)], cv2.COLOR_RGB2GRAY)  # upper half
            if face.size == 0:
                continue
            eyes = self._eyes.detectMultiScale(face, 1.1, 5, minSize=(max(4, int(side / 10)),) * 2)
            left = [e for e in eyes if e[0] + e[2] / 2 < cx - x0]
            right = [e for e in eyes if e[0] + e[2] / 2 >= cx - x0]
            if left and right:
                (lx, ly, lw, lh), (rx, ry, rw, rh) = max(left, key=lambda e: e[2]), max(right, key=lambda e: e[2])
                dy = (ry + rh / 2) - (ly + lh / 2)
                dx = (rx + rw / 2) - (lx + lw / 2)
                a = math.degrees(math.atan2(dy, dx))
                if abs(a) < 30:  # a larger roll is a mis-detection (eyebrow, nostril)
                    angles[i, 0], found[i] = a, True
        if not found.any():
            return np.zeros(len(frames))
        return smooth(fill_nearest(angles, found), self.smoothing)[:, 0]
